package client_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestClientImportsNoDaemon guards the boundary: a Go program that uses the
// client (and so the control API) builds without the daemon, its plugin host
// (go-plugin) or Prometheus.
func TestClientImportsNoDaemon(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil && vmtest.InVM() {
		t.Skipf("skipped on %s: no go tool in the guest (a check of the source's imports: it runs on the host)", vmtest.Where())
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/xdpchain/xdpchain/client").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		switch {
		case d == "github.com/xdpchain/xdpchain/daemon",
			strings.HasPrefix(d, "github.com/xdpchain/xdpchain/plugins/"),
			strings.HasPrefix(d, "github.com/hashicorp/go-plugin"),
			strings.HasPrefix(d, "github.com/prometheus/"):
			t.Errorf("package client depends on %s", d)
		}
	}
}
