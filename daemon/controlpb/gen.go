package controlpb

// Regenerate with protoc 3.21, protoc-gen-go v1.36.6 and protoc-gen-go-grpc
// v1.3.0 on PATH (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.6
// google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0).
//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative control.proto
