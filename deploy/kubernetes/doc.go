// Package kubernetes holds no code: this module is the test of the
// Kubernetes manifests in deploy/kubernetes (manifests_test.go). It builds
// the kustomization with kustomize's own library, decodes every resource
// strictly into the Kubernetes API types, checks the DaemonSet's
// invariants against the ConfigMap's config.toml, and runs `xdpchain run
// --check` on that config.
//
// It is a module of its own so that the main module does not depend on
// k8s.io/api and kustomize. Run it from this directory:
//
//	go vet ./... && go test ./...
//
// (.ci/run does). It builds xdpchain and the example plugins from the
// repository (../..), or takes the daemon from $XDPCHAIN_BIN.
package kubernetes
