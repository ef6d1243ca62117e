package dispatcher_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestCountsAcrossGenerations changes a chain 25 times at random (programs
// added, removed, reordered, their verdict objects, proceed-on sets,
// allowed masks and shadow flags changed, the fall-through verdict too)
// and runs a few packets through each generation, on both roots and every
// mechanism. Status must report, per program, exactly what counting every
// slot's outcome would have counted since the program joined the chain
// (counts follow the program across generations; a program removed and
// added again starts from zero), and the fall-through exactly: counting
// once per packet, and deriving the rest, loses and invents nothing.
func TestCountsAcrossGenerations(t *testing.T) {
	vmtest.LogWhere(t)
	pkt := testutil.UDPPacket(netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:2000"), []byte("counts"))
	for _, root := range []string{"emitted", "reference"} {
		for _, mech := range mechtest.Mechanisms {
			t.Run(root+"/"+string(mech), func(t *testing.T) {
				mechtest.Require(t, mech)
				r := newSemanticsRoot(t, mech, root == "reference")
				rng := rand.New(rand.NewPCG(16, uint64(len(root)+len(mech))))
				testCountsAcrossGenerations(t, r, mech, rng, pkt)
			})
		}
	}
}

func testCountsAcrossGenerations(t *testing.T, r *dispatcher.Root, mech dispatcher.Mechanism, rng *rand.Rand, pkt []byte) {
	verdicts := []uint32{0, 1, 2, 2, 2, 3, 4, 7}
	sets := []dispatcher.VerdictSet{none, onPass, onPass, onPass, onDrop, onAbort, dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop), dispatcher.AllVerdicts}
	allowed := []dispatcher.VerdictSet{0, 0, 0, dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop), dispatcher.NewVerdictSet(dispatcher.Aborted, dispatcher.Pass, dispatcher.TX)}
	fallthroughs := []dispatcher.Verdict{dispatcher.Pass, dispatcher.Drop, dispatcher.TX}

	want := map[string]dispatcher.Stats{} // what each program in the chain counted since it joined
	var wantFT uint64
	st, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	ftBefore := st.FallthroughPackets
	for gen := 0; gen < 25; gen++ {
		// Up to 6 of 8 programs, in a random order.
		var progs []prog
		for _, i := range rng.Perm(8)[:rng.IntN(7)] {
			progs = append(progs, prog{
				name:     fmt.Sprintf("p%d", i),
				verdict:  verdicts[rng.IntN(len(verdicts))],
				priority: len(progs),
				proceed:  sets[rng.IntN(len(sets))],
				allowed:  allowed[rng.IntN(len(allowed))],
				shadow:   rng.IntN(6) == 0,
			})
		}
		spec := dispatcher.Spec{Fallthrough: fallthroughs[rng.IntN(len(fallthroughs))], Mechanism: mech}
		present := map[string]bool{}
		for _, p := range progs {
			spec.Programs = append(spec.Programs, p.program(t))
			present[p.name] = true
		}
		if err := r.Apply(spec); err != nil {
			t.Fatalf("generation %d: %v", gen, err)
		}
		for name := range want {
			if !present[name] {
				delete(want, name) // removed: starts from zero if added again
			}
		}
		for range 1 + rng.IntN(3) {
			wantVerdict := spec.Fallthrough
			fell := true
			for _, p := range progs {
				col, v := countColumn(p)
				s := want[p.name]
				addColumn(&s, col)
				want[p.name] = s
				if !p.shadow && p.proceed&(dispatcher.VerdictSet(1)<<v) == 0 {
					wantVerdict, fell = v, false
					break
				}
			}
			if fell {
				wantFT++
			}
			if got := runDispatcher(t, r, pkt); got != wantVerdict {
				t.Fatalf("generation %d: verdict %s, want %s", gen, got, wantVerdict)
			}
		}
		st, err := r.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Programs {
			if p.Stats != want[p.Name] {
				t.Errorf("generation %d: %s counted %+v, want %+v", gen, p.Name, p.Stats, want[p.Name])
			}
		}
		if got := st.FallthroughPackets - ftBefore; got != wantFT {
			t.Errorf("generation %d: fall-through %d, want %d", gen, got, wantFT)
		}
		if t.Failed() {
			return
		}
	}
}

// countColumn returns the column a program's outcome is counted in (0..4,
// 5 invalid, 6 denied) and the verdict the dispatcher goes on with.
func countColumn(p prog) (int, dispatcher.Verdict) {
	v := dispatcher.Verdict(p.verdict)
	switch {
	case p.verdict > uint32(dispatcher.Redirect):
		return 5, dispatcher.Aborted
	case p.allowed != 0 && p.allowed&(dispatcher.VerdictSet(1)<<v) == 0:
		return 6, dispatcher.Aborted
	}
	return int(p.verdict), v
}

func addColumn(s *dispatcher.Stats, col int) {
	for i, c := range []*uint64{&s.Aborted, &s.Drop, &s.Pass, &s.TX, &s.Redirect, &s.Invalid, &s.Denied} {
		if i == col {
			*c++
		}
	}
}
