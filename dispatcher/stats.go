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

// readStats sums one counter entry over all CPUs.
func readStats(m *ebpf.Map, index uint32) (Stats, error) {
	var per []dispatcherXdpchainCounters
	if err := m.Lookup(index, &per); err != nil {
		return Stats{}, fmt.Errorf("reading counter %d: %w", index, err)
	}
	var s Stats
	for _, c := range per {
		s.Aborted += c.Packets[0]
		s.Drop += c.Packets[1]
		s.Pass += c.Packets[2]
		s.TX += c.Packets[3]
		s.Redirect += c.Packets[4]
		s.Invalid += c.Packets[5]
		s.Denied += c.Packets[6]
	}
	return s, nil
}

// resetStats zeroes a counter entry on every CPU.
func resetStats(m *ebpf.Map, index uint32) error {
	zero := make([]dispatcherXdpchainCounters, ebpf.MustPossibleCPU())
	if err := m.Put(index, zero); err != nil {
		return fmt.Errorf("resetting counter %d: %w", index, err)
	}
	return nil
}
