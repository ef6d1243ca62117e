package dispatcher

import (
	"fmt"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// emittedLen is the length of the root emitted for slots.
func emittedLen(t *testing.T, counters bool, slots ...*slot) int {
	t.Helper()
	stats, err := newStatsMap(maxCounters + 1)
	if err != nil {
		t.Fatal(err)
	}
	defer stats.Close()
	base, err := dispatcherSpec()
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := rootFunctions(base.Programs[rootProgramName].Copy())
	g := &generation{number: 1, fallthrough_: Pass, counters: counters, stats: stats, slots: slots}
	return len(emitRoot(g, entry.insns[0]))
}

func slots(n int, p Program) []*slot {
	out := make([]*slot, n)
	for i := range out {
		out[i] = &slot{Program: p, counter: uint32(i + 1)}
	}
	return out
}

// runLinked builds g with the linked mechanism (the verifier must accept
// it) and runs one 64-byte packet through it.
func runLinked(t *testing.T, g *generation) uint32 {
	t.Helper()
	prog, err := linkedMechanism{}.build(g)
	if err != nil {
		t.Fatal(err)
	}
	g.prog = prog
	ret, _ := testutil.RunXDP(t, prog, make([]byte, 64))
	return ret
}

// TestEmitRootSize bounds the instructions a slot takes, so that the
// configuration stays folded into the code. A slot that proceeds on one
// verdict has a fast path for it beside the general one: a packet that
// proceeds runs the slot's call (or body) and one compare (its count is
// derived, stats.go). With counters, a slot carries 4 more for the empty
// sentinel's count.
func TestEmitRootSize(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		counters bool
		p        Program
		perSlot  int
	}{
		{"plain", true, Program{ProceedOn: DefaultProceedOn}, 22},
		{"no counters", false, Program{ProceedOn: DefaultProceedOn}, 10},
		{"shadow", true, Program{ProceedOn: DefaultProceedOn, Shadow: true}, 19},
		{"allowed mask", true, Program{ProceedOn: DefaultProceedOn, Allowed: NewVerdictSet(Pass, Drop)}, 27},
		{"all allowed", true, Program{ProceedOn: DefaultProceedOn, Allowed: AllVerdicts}, 22},
	} {
		empty := emittedLen(t, tc.counters)
		four := emittedLen(t, tc.counters, slots(4, tc.p)...)
		sixtyFour := emittedLen(t, tc.counters, slots(64, tc.p)...)
		per := (sixtyFour - empty) / 64
		t.Logf("%s: %d instructions without slots, %d per slot", tc.name, empty, per)
		if per > tc.perSlot || (four-empty) != 4*per || (sixtyFour-empty)%64 != 0 {
			t.Errorf("%s: %d, %d, %d instructions for 0, 4, 64 slots: want at most %d per slot, the same for each", tc.name, empty, four, sixtyFour, tc.perSlot)
		}
		if per > 22 && tc.p.Allowed == 0 {
			t.Errorf("%s: %d instructions per slot, more than 22", tc.name, per)
		}
		if empty > 16 {
			t.Errorf("%s: %d instructions without slots", tc.name, empty)
		}
	}
}

// TestEmitRootVerified loads emitted roots of 0, 1, 4 and 64 slots, with
// and without counters and with shadow and allowed masks, and runs a
// packet through each: every slot passes and continues, so the packet
// falls through, and every slot saw it pass (derived where the slot does
// not count it: only shadow slots' rows and the fall-through count).
func TestEmitRootVerified(t *testing.T) {
	vmtest.LogWhere(t)
	for _, n := range []int{0, 1, 4, 64} {
		for _, counters := range []bool{true, false} {
			for _, masks := range []bool{false, true} {
				if masks && n == 0 {
					continue
				}
				t.Run(fmt.Sprintf("%d slots counters %v masks %v", n, counters, masks), func(t *testing.T) {
					var progs []Program
					for i := range n {
						p := verdictProgram(t, fmt.Sprintf("p%d", i), Pass)
						if masks {
							p.Shadow = i%3 == 0
							if i%2 == 0 {
								p.Allowed = NewVerdictSet(Pass, Drop)
							}
						}
						progs = append(progs, p)
					}
					g := testGeneration(t, counters, progs...)
					if ret := runLinked(t, g); ret != uint32(Pass) {
						t.Errorf("verdict %d, want pass", ret)
					}
					want := Stats{}
					if counters {
						want.Pass = 1
					}
					got, ft := generationStats(t, g)
					for i, s := range got {
						if s != want {
							t.Errorf("slot %d: %+v, want %+v", i, s, want)
						}
					}
					if ft != want.Pass {
						t.Errorf("fall-through %d, want %d", ft, want.Pass)
					}
					// Counted once: in the fall-through column and in
					// the shadow slots' rows, nowhere else.
					rows, err := counterRows(g.stats)
					if err != nil {
						t.Fatal(err)
					}
					for i, p := range progs {
						r := rowOf(rows, uint32(i+1))
						if c := r[Pass]; counters && p.Shadow != (c == 1) {
							t.Errorf("slot %d (shadow %v): row counts %d passes", i, p.Shadow, c)
						}
					}
				})
			}
		}
	}
}

// TestEmitRootVerdicts runs the folded checks: a shadow slot's verdict is
// counted and ignored, a verdict outside the allowed mask becomes aborted
// and is counted denied, an invalid value is counted invalid.
func TestEmitRootVerdicts(t *testing.T) {
	vmtest.LogWhere(t)
	shadowDrop := verdictProgram(t, "shadow", Drop)
	shadowDrop.Shadow = true
	tx := verdictProgram(t, "tx", TX)
	tx.Allowed = NewVerdictSet(Pass, Drop)
	pass := verdictProgram(t, "pass", Pass)

	g := testGeneration(t, true, shadowDrop, pass, tx)
	if ret := runLinked(t, g); ret != uint32(Aborted) {
		t.Errorf("verdict %d, want aborted (tx denied)", ret)
	}
	got, ft := generationStats(t, g)
	for i, want := range []Stats{{Drop: 1}, {Pass: 1}, {Denied: 1}} {
		if got[i] != want {
			t.Errorf("slot %d: %+v, want %+v", i, got[i], want)
		}
	}
	if ft != 0 {
		t.Errorf("fall-through %d, want 0", ft)
	}
	// pass proceeded: derived, not counted.
	if rows, err := counterRows(g.stats); err != nil || rowOf(rows, 2) != (counterRow{}) {
		t.Errorf("the passing slot's row counts %v (%v), want nothing", rowOf(rows, 2), err)
	}

	invalid := verdictProgram(t, "invalid", Pass)
	invalid.Object = testprogs.Object(testprogs.VerdictInvalid)
	g = testGeneration(t, true, invalid)
	if ret := runLinked(t, g); ret != uint32(Aborted) {
		t.Errorf("invalid value: verdict %d, want aborted", ret)
	}
	if got, _ := generationStats(t, g); got[0] != (Stats{Invalid: 1}) {
		t.Errorf("invalid value counted %+v", got[0])
	}
}
