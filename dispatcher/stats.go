package dispatcher

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Stats counts the packets a program saw, by the verdict it returned.
// Invalid counts return values outside XDP_ABORTED..XDP_REDIRECT and Denied
// verdicts the program is not allowed to return; both became XDP_ABORTED.
type Stats struct {
	Aborted  uint64 `json:"aborted"`
	Drop     uint64 `json:"drop"`
	Pass     uint64 `json:"pass"`
	TX       uint64 `json:"tx"`
	Redirect uint64 `json:"redirect"`
	Invalid  uint64 `json:"invalid"`
	Denied   uint64 `json:"denied"`
}

// Total is the number of packets counted.
func (s Stats) Total() uint64 {
	return s.Aborted + s.Drop + s.Pass + s.TX + s.Redirect + s.Invalid + s.Denied
}

func newStatsMap() (*ebpf.Map, error) {
	base, err := dispatcherSpec()
	if err != nil {
		return nil, err
	}
	m, err := ebpf.NewMap(base.Maps[statsMapName].Copy())
	if err != nil {
		return nil, fmt.Errorf("creating counters: %w", err)
	}
	return m, nil
}

// counterRows reads the counters of every CPU.
func counterRows(m *ebpf.Map) ([]dispatcherXdpchainCounters, error) {
	var per []dispatcherXdpchainCounters
	if err := m.Lookup(uint32(0), &per); err != nil {
		return nil, fmt.Errorf("reading counters: %w", err)
	}
	return per, nil
}

// rowStats sums one program's row (or row 0, fall-through) over all CPUs.
func rowStats(per []dispatcherXdpchainCounters, row uint32) Stats {
	var s Stats
	if row > maxCounters {
		return s
	}
	for i := range per {
		c := &per[i].Packets[row]
		s.Aborted += c[0]
		s.Drop += c[1]
		s.Pass += c[2]
		s.TX += c[3]
		s.Redirect += c[4]
		s.Invalid += c[5]
		s.Denied += c[6]
	}
	return s
}

// readStats sums one counter row over all CPUs.
func readStats(m *ebpf.Map, row uint32) (Stats, error) {
	per, err := counterRows(m)
	if err != nil {
		return Stats{}, err
	}
	return rowStats(per, row), nil
}

// minus subtracts a baseline. Rows are never written from user space (that
// would race with the datapath's increments of other rows); a program's
// counts start from a snapshot of its row taken when the row was assigned,
// while no generation was counting into it.
func (s Stats) minus(b Stats) Stats {
	return Stats{
		Aborted: s.Aborted - b.Aborted, Drop: s.Drop - b.Drop, Pass: s.Pass - b.Pass, TX: s.TX - b.TX,
		Redirect: s.Redirect - b.Redirect, Invalid: s.Invalid - b.Invalid, Denied: s.Denied - b.Denied,
	}
}
