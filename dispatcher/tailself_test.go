package dispatcher_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// tailSelfPorts are the packets the tail-call test sends: one per port
// tailself decides on, and one it passes either way.
var tailSelfPorts = []uint16{testprogs.TailSelfPortA, testprogs.TailSelfPortB, 9}

// tailSelfAlone runs tailself alone, loaded by its own loader with its
// PROG_ARRAY filled with tailself_target or empty, on each of
// tailSelfPorts.
func tailSelfAlone(t *testing.T, filled bool) []dispatcher.Verdict {
	t.Helper()
	spec, err := testprogs.Spec(testprogs.TailSelf)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	if filled {
		if err := coll.Maps["jumps"].Put(uint32(0), coll.Programs["tailself_target"]); err != nil {
			t.Fatal(err)
		}
	}
	var out []dispatcher.Verdict
	for _, port := range tailSelfPorts {
		ret, err := coll.Programs["tailself"].Run(&ebpf.RunOptions{Data: udpTo(port)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dispatcher.Verdict(ret))
	}
	return out
}

// fillOwnArray loads tailself's object with its pinned maps, as its own
// loader would with the chain's pins, and puts the object's tailself_target
// into its PROG_ARRAY. The returned function empties it again.
func fillOwnArray(t *testing.T, r *dispatcher.Root, name string) func() {
	t.Helper()
	spec, err := testprogs.Spec(testprogs.TailSelf)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := r.ProgramMaps(name)
	if err != nil {
		t.Fatal(err)
	}
	jumps, err := ebpf.LoadPinnedMap(paths["jumps"], nil)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"jumps": jumps}})
	if err != nil {
		jumps.Close()
		t.Fatalf("loading %s's object with its pinned PROG_ARRAY: %v", name, err)
	}
	if err := jumps.Put(uint32(0), coll.Programs["tailself_target"]); err != nil {
		t.Fatalf("filling %s's PROG_ARRAY: %v", name, err)
	}
	return func() {
		defer coll.Close()
		defer jumps.Close()
		if err := jumps.Delete(uint32(0)); err != nil {
			t.Fatalf("emptying %s's PROG_ARRAY: %v", name, err)
		}
	}
}

// TestTailCallReturnsToChain: a program that tail-calls into its own
// PROG_ARRAY, first, in the middle and last of a chain ending in a drop-all
// program, with the array filled and empty, with proceed-on pass and pass
// + tx, on every mechanism. The tail-called program's verdict returns to
// the chain as the program's own would: it is what the program alone
// returns, counted in the program's row, and proceed-on decides whether the
// chain goes on (to the drop-all, or the fall-through). Under inline the
// program is called, and status says why.
func TestTailCallReturnsToChain(t *testing.T) {
	alone := map[bool][]dispatcher.Verdict{false: tailSelfAlone(t, false), true: tailSelfAlone(t, true)}
	// The program alone: the target decides when the array is filled.
	if alone[true][0] != dispatcher.TX || alone[false][0] != dispatcher.Drop || alone[true][2] != dispatcher.Pass {
		t.Fatalf("tailself alone: filled %v, empty %v", alone[true], alone[false])
	}
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		r := newSemanticsRoot(t, mech)
		for _, pos := range []string{"first", "middle", "last"} {
			for _, proceed := range []dispatcher.VerdictSet{onPass, dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.TX)} {
				t.Run(fmt.Sprintf("%s/proceed-on=%s", pos, proceed), func(t *testing.T) {
					testTailCallPosition(t, r, mech, pos, proceed, alone)
				})
			}
		}
	})
}

func testTailCallPosition(t *testing.T, r *dispatcher.Root, mech dispatcher.Mechanism, pos string, proceed dispatcher.VerdictSet, alone map[bool][]dispatcher.Verdict) {
	self := program(t, testprogs.TailSelf, "tailself")
	self.Priority, self.ProceedOn = 10, proceed
	before := program(t, testprogs.Noop, "before")
	before.Priority = 5
	dropAll := program(t, testprogs.VerdictDrop, "dropall")
	dropAll.Priority = 20
	chain := dispatcher.Chain{self, dropAll}
	switch pos {
	case "middle":
		chain = dispatcher.Chain{before, self, dropAll}
	case "last":
		chain = dispatcher.Chain{before, self}
	}
	if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: chain}); err != nil {
		t.Fatal(err)
	}
	placed := placements(t, r)
	others, why := dispatcher.PlacementCall, ""
	switch mech {
	case dispatcher.Inline:
		others, why = dispatcher.PlacementInline, "entry function tail calls"
	case dispatcher.Freplace:
		others, why = dispatcher.PlacementFreplace, `spliced into the root, because the kernel refuses an extension (freplace) the PROG_ARRAY "jumps"`
	}
	if p := placed["tailself"]; p.Placement != dispatcher.PlacementCall || !strings.Contains(p.CallReason, why) {
		t.Errorf("tailself placed %q (%s), want called (%s)", p.Placement, p.CallReason, why)
	}
	for _, name := range []string{"before", "dropall"} {
		if p, ok := placed[name]; ok && p.Placement != others {
			t.Errorf("%s placed %q (%s), want %s", name, p.Placement, p.CallReason, others)
		}
	}
	for _, filled := range []bool{false, true} {
		var empty func()
		if filled {
			empty = fillOwnArray(t, r, "tailself")
		}
		for i, port := range tailSelfPorts {
			v := alone[filled][i]
			want := v
			wantCounts := map[string]dispatcher.Stats{"tailself": statsOf(v)}
			if pos != "first" {
				wantCounts["before"] = dispatcher.Stats{Pass: 1}
			}
			if proceed.Has(v) {
				if pos == "last" {
					want, wantCounts[""] = dispatcher.Pass, dispatcher.Stats{Pass: 1}
				} else {
					want, wantCounts["dropall"] = dispatcher.Drop, dispatcher.Stats{Drop: 1}
				}
			}
			b := statsByName(t, r)
			if got := runDispatcher(t, r, udpTo(port)); got != want {
				t.Errorf("filled=%v port %d: chain verdict %s, want %s (alone %s)", filled, port, got, want, v)
			}
			a := statsByName(t, r)
			for name := range a {
				if d := sub(a[name], b[name]); d != wantCounts[name] {
					t.Errorf("filled=%v port %d: %q counted %+v, want %+v", filled, port, name, d, wantCounts[name])
				}
			}
		}
		if empty != nil {
			empty()
		}
	}
}

// statsOf is one packet counted as v.
func statsOf(v dispatcher.Verdict) dispatcher.Stats {
	var s dispatcher.Stats
	switch v {
	case dispatcher.Aborted:
		s.Aborted = 1
	case dispatcher.Drop:
		s.Drop = 1
	case dispatcher.Pass:
		s.Pass = 1
	case dispatcher.TX:
		s.TX = 1
	case dispatcher.Redirect:
		s.Redirect = 1
	}
	return s
}
