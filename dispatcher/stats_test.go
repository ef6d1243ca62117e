package dispatcher

import (
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// counterRowsFor builds per-CPU counter rows in which CPU c's row r column
// k holds (c+1)*1000 + r*10 + k.
func counterRowsFor(cpus int) []dispatcherXdpchainCounters {
	per := make([]dispatcherXdpchainCounters, cpus)
	for c := range per {
		for r := range per[c].Packets {
			for k := range per[c].Packets[r] {
				per[c].Packets[r][k] = uint64((c+1)*1000 + r*10 + k)
			}
		}
	}
	return per
}

// rowsOf is per as a counters map of all rows reads it.
func rowsOf(per []dispatcherXdpchainCounters) perCPURows {
	out := make(perCPURows, len(per))
	for c := range per {
		for _, r := range per[c].Packets {
			out[c] = append(out[c], counterRow(r))
		}
	}
	return out
}

// writeCounters writes per's first rows, as many as m has, into counters
// map m.
func writeCounters(m *ebpf.Map, per []dispatcherXdpchainCounters) error {
	vals := make([][]uint64, len(per))
	for c := range per {
		for _, r := range per[c].Packets[:counterCapacity(m)] {
			vals[c] = append(vals[c], r[:]...)
		}
	}
	return m.Update(uint32(0), vals, ebpf.UpdateAny)
}

func TestRowStats(t *testing.T) {
	per := rowsOf(counterRowsFor(3))
	col := func(r, k int) uint64 {
		// (1+2+3)*1000 + 3*(r*10+k)
		return uint64(6000 + 3*(r*10+k))
	}
	for _, row := range []uint32{0, 1, 17, maxCounters} {
		want := Stats{
			Aborted: col(int(row), 0), Drop: col(int(row), 1), Pass: col(int(row), 2), TX: col(int(row), 3),
			Redirect: col(int(row), 4), Invalid: col(int(row), 5), Denied: col(int(row), 6),
		}
		if got := rowStats(per, row); got != want {
			t.Errorf("row %d: %+v, want %+v", row, got, want)
		}
	}
	for _, row := range []uint32{maxCounters + 1, 1 << 31} {
		if got := rowStats(per, row); got != (Stats{}) {
			t.Errorf("row %d past the end: %+v, want zero", row, got)
		}
	}
	if got := rowStats(nil, 1); got != (Stats{}) {
		t.Errorf("no CPUs: %+v", got)
	}
	// Column 7 is padding, never counted.
	one := make([]dispatcherXdpchainCounters, 1)
	one[0].Packets[2][7] = 99
	if got := rowStats(rowsOf(one), 2); got.Total() != 0 {
		t.Errorf("padding column counted: %+v", got)
	}
}

func TestStatsTotalAndMinus(t *testing.T) {
	s := Stats{Aborted: 1, Drop: 2, Pass: 4, TX: 8, Redirect: 16, Invalid: 32, Denied: 64}
	if s.Total() != 127 {
		t.Errorf("Total %d, want 127", s.Total())
	}
	if (Stats{}).Total() != 0 {
		t.Error("zero Stats has a total")
	}
	base := Stats{Aborted: 1, Drop: 1, Pass: 1, TX: 1, Redirect: 1, Invalid: 1, Denied: 1}
	want := Stats{Aborted: 0, Drop: 1, Pass: 3, TX: 7, Redirect: 15, Invalid: 31, Denied: 63}
	if got := s.minus(base); got != want {
		t.Errorf("minus: %+v, want %+v", got, want)
	}
	if got := s.minus(Stats{}); got != s {
		t.Errorf("minus zero: %+v", got)
	}
	if got := s.minus(s); got != (Stats{}) {
		t.Errorf("minus itself: %+v", got)
	}
}

// TestCounterRows writes per-CPU counters into real counters maps, of all
// rows (the C root's layout) and of a few, and reads rows back summed.
func TestCounterRows(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range []uint32{maxCounters + 1, minCounterRows, 3} {
		m, err := newStatsMap(rows)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if counterCapacity(m) != rows {
			t.Errorf("map of %d rows: capacity %d", rows, counterCapacity(m))
		}
		if rows == maxCounters+1 {
			// The C root's struct is the layout of a map of all rows.
			err = m.Update(uint32(0), counterRowsFor(cpus), ebpf.UpdateAny)
		} else {
			err = writeCounters(m, counterRowsFor(cpus))
		}
		if err != nil {
			t.Fatal(err)
		}
		per, err := counterRows(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(per) != cpus || uint32(len(per[0])) != rows {
			t.Fatalf("%d CPUs of %d rows, want one per possible CPU (%d) of %d", len(per), len(per[0]), cpus, rows)
		}
		got := rowStats(per, 2)
		sum := uint64(cpus*(cpus+1)/2) * 1000
		if want := sum + uint64(cpus)*22; got.Pass != want {
			t.Errorf("%d rows: row 2 pass: %d, want %d", rows, got.Pass, want)
		}
		if got := rowStats(per, rows); got != (Stats{}) {
			t.Errorf("%d rows: row %d past the end: %+v, want zero", rows, rows, got)
		}
	}
}

func TestCounterRowsForChain(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want uint32
	}{{0, minCounterRows}, {1, minCounterRows}, {3, minCounterRows}, {4, 16}, {10, 32}, {31, 64}, {32, 128}, {MaxPrograms, maxCounters + 1}} {
		got := counterRowsForChain(tc.n)
		if got != tc.want {
			t.Errorf("%d programs: %d rows, want %d", tc.n, got, tc.want)
		}
		if got < uint32(2*tc.n+1) {
			t.Errorf("%d programs: %d rows do not hold two generations", tc.n, got)
		}
	}
}

// explicitChain models the datapath for TestDeriveCountsMatchesExplicit:
// one chain, and one packet at a time with a return value per slot.
type explicitChain struct {
	slots []Program
	// explicit: what counting every slot's outcome (per slot) gives.
	explicit   []Stats
	explicitFT uint64
	// once: the rows and fall-through that countingOnce counts.
	rows []counterRow
	ft   uint64
}

// run passes one packet: rets[i] is what slot i returns (0..4, an invalid
// value, or the empty sentinel).
func (c *explicitChain) run(rets []uint32) {
	for i, p := range c.slots {
		ret := rets[i]
		if ret == slotEmpty {
			c.rows[i][colEmpty]++
			continue
		}
		col := int(ret)
		v := Verdict(ret)
		switch {
		case ret > uint32(Redirect):
			col, v = colInvalid, Aborted
		case p.Allowed != 0 && p.Allowed&(VerdictSet(1)<<v) == 0:
			col, v = colDenied, Aborted
		}
		var s Stats
		r := counterRow{}
		r[col] = 1
		s = r.stats()
		c.explicit[i] = c.explicit[i].plus(s)
		if pv, ok := fastVerdict(p); !ok || col != int(pv) {
			c.rows[i][col]++
		}
		if !p.Shadow && p.ProceedOn&(VerdictSet(1)<<v) == 0 {
			return
		}
	}
	c.explicitFT++
	c.ft++
}

// TestDeriveCountsMatchesExplicit runs random packets through random chains
// (proceed-on sets of none, one or several verdicts, shadows, allowed
// masks; every slot returning a random verdict, an invalid value or the
// empty sentinel) in a model of the datapath, counting both ways: every
// slot's outcome (as before counting once), and once where the packet ends
// (countingOnce). What deriveCounts makes of the latter must be the former,
// exactly, slot by slot, and the fall-through the same.
func TestDeriveCountsMatchesExplicit(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	sets := []VerdictSet{0, NewVerdictSet(Pass), NewVerdictSet(Drop), NewVerdictSet(Aborted), NewVerdictSet(TX), NewVerdictSet(Pass, Drop), NewVerdictSet(Aborted, Pass), AllVerdicts}
	allowed := []VerdictSet{0, 0, 0, AllVerdicts, NewVerdictSet(Pass), NewVerdictSet(Pass, Drop), NewVerdictSet(Aborted, TX)}
	returns := []uint32{0, 1, 2, 2, 2, 2, 3, 4, 7, slotEmpty}
	for trial := 0; trial < 2000; trial++ {
		n := 1 + rng.IntN(MaxPrograms)
		if trial%2 == 0 {
			n = 1 + rng.IntN(6)
		}
		c := &explicitChain{explicit: make([]Stats, n), rows: make([]counterRow, n)}
		for range n {
			p := Program{ProceedOn: sets[rng.IntN(len(sets))], Allowed: allowed[rng.IntN(len(allowed))], Shadow: rng.IntN(8) == 0}
			c.slots = append(c.slots, p)
		}
		// Most packets take a slot's likely verdict: the proceed one.
		for range 1 + rng.IntN(200) {
			rets := make([]uint32, n)
			for i, p := range c.slots {
				rets[i] = returns[rng.IntN(len(returns))]
				if pv, ok := fastVerdict(p); ok && rng.IntN(4) != 0 {
					rets[i] = uint32(pv)
				}
			}
			c.run(rets)
		}
		got := deriveCounts(c.slots, c.rows, c.ft)
		for i := range got {
			if got[i] != c.explicit[i] {
				t.Fatalf("trial %d, slot %d of %d (%+v): derived %+v, counted %+v", trial, i, n, c.slots[i], got[i], c.explicit[i])
			}
		}
		if c.ft != c.explicitFT {
			t.Fatalf("trial %d: fall-through %d, counted %d", trial, c.ft, c.explicitFT)
		}
	}
}
