package dispatcher_test

import (
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// TestDeadFunctionsInlined: a program with __noinline functions the
// verifier proves unreachable (it drops them before reporting stack
// depths) is inlined like any other, and decides as it does alone.
func TestDeadFunctionsInlined(t *testing.T) {
	mechtest.Require(t, dispatcher.Inline)
	r := newSemanticsRoot(t, dispatcher.Inline)
	dead := program(t, testprogs.DeadFuncs, "deadfuncs")
	add(t, r, dead, program(t, testprogs.Noop, "noop"))
	if p := placements(t, r)["deadfuncs"]; p.Placement != dispatcher.PlacementInline {
		t.Errorf("deadfuncs placed %q (%s), want inline", p.Placement, p.CallReason)
	}
	for _, port := range []uint16{testprogs.DeadFuncsPortDrop, testprogs.DeadFuncsPortTx, 9} {
		want := standaloneVerdict(t, testprogs.Object(testprogs.DeadFuncs), "deadfuncs", udpTo(port))
		if got := runDispatcher(t, r, udpTo(port)); got != want {
			t.Errorf("port %d: verdict %s, alone %s", port, got, want)
		}
	}
	if want := standaloneVerdict(t, testprogs.Object(testprogs.DeadFuncs), "deadfuncs", udpTo(testprogs.DeadFuncsPortDrop)); want != dispatcher.Drop {
		t.Errorf("deadfuncs alone: port %d: %s, want drop", testprogs.DeadFuncsPortDrop, want)
	}
}
