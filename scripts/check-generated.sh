#!/usr/bin/env bash
# Checks that the committed generated code is current: regenerates the
# bpf2go objects and bindings and the protobuf code (go generate ./...) and
# fails when that changes any tracked file or adds one. Needs clang, llvm,
# protoc (protobuf-compiler) and the module proxy for the protoc plugins, at
# the versions the generated files name.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "check-generated: the work tree has changes; run it on a clean checkout" >&2
	exit 2
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.6
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0
PATH=$bin:$PATH go generate ./...
if ! git diff --quiet || [ -n "$(git status --porcelain | grep '^??' || true)" ]; then
	echo "check-generated: generated code is stale; run 'go generate ./...' and commit:" >&2
	git status --short >&2
	git diff --stat >&2
	exit 1
fi
echo "check-generated: generated code is current"
