package dispatcher

import (
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

func TestRowStats(t *testing.T) {
	per := counterRowsFor(3)
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
	per = make([]dispatcherXdpchainCounters, 1)
	per[0].Packets[2][7] = 99
	if got := rowStats(per, 2); got.Total() != 0 {
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

// TestReadStats writes per-CPU counters into a real counters map and reads
// one row back summed.
func TestReadStats(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	m, err := newStatsMap()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Update(uint32(0), counterRowsFor(cpus), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	per, err := counterRows(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != cpus {
		t.Fatalf("%d rows, want one per possible CPU (%d)", len(per), cpus)
	}
	got, err := readStats(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	sum := uint64(cpus*(cpus+1)/2) * 1000
	if want := sum + uint64(cpus)*32; got.Pass != want {
		t.Errorf("row 3 pass: %d, want %d", got.Pass, want)
	}
	if got != rowStats(per, 3) {
		t.Errorf("readStats %+v differs from rowStats %+v", got, rowStats(per, 3))
	}
}
