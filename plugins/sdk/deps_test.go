package sdk

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestDependencies: a plugin built with the SDK pulls in neither netlink nor
// the dispatcher (Verdict comes from package xdp).
func TestDependencies(t *testing.T) {
	if vmtest.InVM() {
		t.Skipf("lists packages with the go command, which %s does not have: this test runs on the host", vmtest.Where())
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("lists packages with the go command (%v): this test runs on a host with the Go toolchain", err)
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/xdpchain/xdpchain/plugins/sdk").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/vishvananda/") || dep == "github.com/xdpchain/xdpchain/dispatcher" {
			t.Errorf("the SDK depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/xdpchain/xdpchain/xdp\n") {
		t.Errorf("the SDK does not take Verdict from package xdp:\n%s", out)
	}
}
