package dispatcher_test

import (
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// TestExplain runs frames through a chain with Explain: each slot's verdict
// and what the dispatcher did with it (shadow, denied, decides, continue),
// the deciding program or the fall-through, in agreement with the
// dispatcher itself; the dispatcher's counters do not move.
func TestExplain(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		r := newSemanticsRoot(t, mech)
		shadow := program(t, testprogs.VerdictDrop, "shadow")
		shadow.Shadow, shadow.Priority = true, 1
		denied := program(t, testprogs.VerdictTx, "denied")
		denied.Priority, denied.Allowed, denied.ProceedOn = 2, dispatcher.NewVerdictSet(dispatcher.Pass), dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Aborted)
		chain := dispatcher.Chain{shadow, denied, program(t, testprogs.DropPort, "dropport"), program(t, testprogs.Noop, "noop")}
		if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: chain}); err != nil {
			t.Fatal(err)
		}
		before := statsByName(t, r)

		ex, err := r.Explain(udpTo(testprogs.DropPortDefault))
		if err != nil {
			t.Fatal(err)
		}
		want := []dispatcher.SlotExplanation{
			{Slot: 0, Name: "shadow", Verdict: "drop", Action: dispatcher.ActionShadow},
			{Slot: 1, Name: "denied", Verdict: "tx", Action: dispatcher.ActionDenied},
			{Slot: 2, Name: "dropport", Verdict: "drop", Action: dispatcher.ActionDecides},
		}
		if ex.Verdict != "drop" || ex.DecidedBy != "dropport" || len(ex.Slots) != len(want) {
			t.Fatalf("explained %+v, want drop by dropport after %d slots", ex, len(want))
		}
		for i, w := range want {
			if ex.Slots[i] != w {
				t.Errorf("slot %d: %+v, want %+v", i, ex.Slots[i], w)
			}
		}
		ex, err = r.Explain(udpTo(9))
		if err != nil {
			t.Fatal(err)
		}
		if ex.Verdict != "pass" || ex.DecidedBy != "(fall-through)" || len(ex.Slots) != 4 || ex.Slots[3].Action != dispatcher.ActionContinue {
			t.Errorf("a passing frame: %+v", ex)
		}
		after := statsByName(t, r)
		for name, st := range after {
			if st != before[name] {
				t.Errorf("Explain moved the counters of %q: %+v -> %+v", name, before[name], st)
			}
		}
		// The dispatcher itself agrees.
		if got := runDispatcher(t, r, udpTo(testprogs.DropPortDefault)); got != dispatcher.Drop {
			t.Errorf("the dispatcher says %s, Explain drop", got)
		}
		if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Pass {
			t.Errorf("the dispatcher says %s, Explain pass", got)
		}
	})
}
