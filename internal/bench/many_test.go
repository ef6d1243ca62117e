package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestRunMany runs the many-interfaces benchmark small (4 interfaces × 2
// programs, no idle window): the daemon gets ready on every interface,
// one change reaches all of them, and the table says so. It asserts no
// time.
func TestRunMany(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	res, err := RunMany(context.Background(), ManyOptions{Bin: bin, Interfaces: 4, Programs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ready <= 0 || res.Change <= 0 || res.RSSMB <= 0 || len(res.Checks) != 0 {
		t.Errorf("result %+v: want ready, change and RSS measured, no targets (not 250 × 10)", res)
	}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "4 veths matched by one interface glob, 2 programs") || strings.Contains(b.String(), "idle") {
		t.Errorf("table:\n%s", b.String())
	}
	if _, err := RunMany(context.Background(), ManyOptions{Bin: bin, Programs: 65}); err == nil {
		t.Error("65 programs: no error")
	}
}
