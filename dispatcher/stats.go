package dispatcher

import (
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
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

// Columns of a counter row (bpf/dispatcher.h): the verdicts 0..4, then
// these.
const (
	colInvalid = 5
	colDenied  = 6
	// colEmpty counts the packets a slot passed on by returning the empty
	// sentinel.
	colEmpty = 7
)

// How a generation counts (state.Counting).
const (
	// countingPerSlot (the empty string, states of format 1, written by 0.3 and earlier):
	// every slot counts the verdict of every packet it sees, in its
	// program's row, and row 0 counts fall-through in the verdict's column.
	countingPerSlot = ""
	// countingOnce: a packet is counted once, where it ends. A slot that
	// proceeds on one verdict it may return and is no shadow (derived)
	// counts every outcome but that verdict; that one is derived from what
	// the later slots and the fall-through counted (generationCounts).
	// Every other slot counts every outcome. Fall-through is counted in
	// row 0, column state.FallthroughColumn (colInvalid or colDenied, which
	// row 0 never uses otherwise), and the empty sentinel in colEmpty.
	// Rows are the generation's own: the next generation counts into other
	// rows and the other column of row 0, so once a generation is replaced
	// (and no CPU still runs it: synchronizeRCU) its counts are final, and
	// they are folded into its programs' totals (foldRetired).
	countingOnce = "once"
)

// derived reports whether a slot running p leaves the verdict it proceeds
// on uncounted under countingOnce.
func derived(p Program) bool {
	_, ok := fastVerdict(p)
	return ok
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

// counterRow is one row summed over all CPUs, by column.
type counterRow [8]uint64

// rowOf sums one row (0: fall-through; beyond maxCounters: zeros) over
// all CPUs.
func rowOf(per []dispatcherXdpchainCounters, row uint32) counterRow {
	var r counterRow
	if row > maxCounters {
		return r
	}
	for i := range per {
		for col, v := range per[i].Packets[row] {
			r[col] += v
		}
	}
	return r
}

// stats returns the verdict columns of r.
func (r counterRow) stats() Stats {
	return Stats{Aborted: r[0], Drop: r[1], Pass: r[2], TX: r[3], Redirect: r[4], Invalid: r[colInvalid], Denied: r[colDenied]}
}

// rowStats sums one program's row (or row 0, fall-through) over all CPUs.
func rowStats(per []dispatcherXdpchainCounters, row uint32) Stats {
	return rowOf(per, row).stats()
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

// plus adds two counts.
func (s Stats) plus(b Stats) Stats {
	return Stats{
		Aborted: s.Aborted + b.Aborted, Drop: s.Drop + b.Drop, Pass: s.Pass + b.Pass, TX: s.TX + b.TX,
		Redirect: s.Redirect + b.Redirect, Invalid: s.Invalid + b.Invalid, Denied: s.Denied + b.Denied,
	}
}

// setVerdict sets the count of verdict v.
func (s *Stats) setVerdict(v Verdict, n uint64) {
	switch v {
	case Aborted:
		s.Aborted = n
	case Drop:
		s.Drop = n
	case Pass:
		s.Pass = n
	case TX:
		s.TX = n
	case Redirect:
		s.Redirect = n
	}
}

// counting is where one generation counted: how (countingPerSlot or
// countingOnce), whether at all, row 0's fall-through column and its
// content when the generation started, and its programs in slot order with
// their rows and those rows' content then (state and retiredGeneration
// hold one each).
type counting struct {
	how        string
	noCounters bool
	ftColumn   uint32
	ftBase     uint64
	programs   []programState
}

// generationCounts returns what generation c counted so far (all of it
// once the generation is replaced and no CPU runs it any more), per
// program name, and the packets that fell through. Under countingPerSlot
// fall-through is 0: row 0's verdict columns hold it for all such
// generations together (status adds them).
func generationCounts(c counting, per []dispatcherXdpchainCounters) (map[string]Stats, uint64) {
	out := make(map[string]Stats, len(c.programs))
	if c.noCounters {
		return out, 0
	}
	if c.how == countingPerSlot {
		for _, ps := range c.programs {
			out[ps.Name] = rowStats(per, ps.Counter).minus(ps.Base)
		}
		return out, 0
	}
	rows := make([]counterRow, len(c.programs))
	for i, ps := range c.programs {
		rows[i] = rowOf(per, ps.Counter)
		for col := 0; col < colEmpty; col++ {
			rows[i][col] -= baseColumn(ps.Base, col)
		}
		rows[i][colEmpty] -= ps.EmptyBase
	}
	ft := rowOf(per, 0)[c.ftColumn&colEmpty] - c.ftBase
	slots := make([]Program, len(c.programs))
	for i, ps := range c.programs {
		slots[i] = ps.program()
	}
	stats := deriveCounts(slots, rows, ft)
	for i, ps := range c.programs {
		out[ps.Name] = stats[i]
	}
	return out, ft
}

// baseColumn returns column col (0..6) of a row's baseline.
func baseColumn(b Stats, col int) uint64 {
	return counterRow{b.Aborted, b.Drop, b.Pass, b.TX, b.Redirect, b.Invalid, b.Denied}[col]
}

// deriveCounts turns what a countingOnce generation counted into what each
// slot saw: rows[i] is slot i's row since the generation started, ft the
// packets that fell through. From the last slot back: the packets that
// reached slot i+1 (ft after the last slot) are all that slot i+1 counted
// plus those it passed on empty; a derived slot's proceed verdict is the
// packets that reached the next slot, minus those it passed on empty and,
// when it proceeds on XDP_ABORTED, those its invalid and denied verdicts
// sent on. Counts read while packets cross the chain can lag by the
// packets in flight; a derived count never goes below 0.
func deriveCounts(slots []Program, rows []counterRow, ft uint64) []Stats {
	out := make([]Stats, len(slots))
	reach := ft
	for i := len(slots) - 1; i >= 0; i-- {
		r := rows[i]
		s := r.stats()
		if pv, ok := fastVerdict(slots[i]); ok {
			passed := reach
			sub := r[colEmpty]
			if pv == Aborted {
				sub += r[colInvalid] + r[colDenied]
			}
			n := uint64(0)
			if passed > sub {
				n = passed - sub
			}
			s.setVerdict(pv, n)
		}
		out[i] = s
		reach = s.Total() + r[colEmpty]
	}
	return out
}

// synchronizeRCU returns once every CPU has left the RCU read-side
// critical sections it was in (membarrier MEMBARRIER_CMD_GLOBAL runs
// synchronize_rcu): XDP programs run inside one, so a generation swapped
// out before the call runs on no CPU after it.
func synchronizeRCU() error {
	const membarrierCmdGlobal = 1 // MEMBARRIER_CMD_GLOBAL
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		return fmt.Errorf("waiting for an RCU grace period (membarrier): %w", errno)
	}
	return nil
}

// retiredGeneration is where the generation before the running one
// counted (state.Retired).
type retiredGeneration struct {
	Counting          string         `json:"counting,omitempty"`
	NoCounters        bool           `json:"no_counters,omitempty"`
	FallthroughColumn uint32         `json:"fallthrough_column,omitempty"`
	FallthroughBase   uint64         `json:"fallthrough_base,omitempty"`
	Programs          []programState `json:"programs"`
}

func (r *retiredGeneration) counting() counting {
	return counting{how: r.Counting, noCounters: r.NoCounters, ftColumn: r.FallthroughColumn, ftBase: r.FallthroughBase, programs: r.Programs}
}

func (s *state) counting() counting {
	return counting{how: s.Counting, noCounters: s.NoCounters, ftColumn: s.FallthroughColumn, ftBase: s.FallthroughBase, programs: s.Programs}
}

// retire returns where s's generation counts, for the state of the next.
func (s *state) retire() *retiredGeneration {
	r := &retiredGeneration{Counting: s.Counting, NoCounters: s.NoCounters, FallthroughColumn: s.FallthroughColumn, FallthroughBase: s.FallthroughBase}
	for _, ps := range s.Programs {
		r.Programs = append(r.Programs, programState{programRecord: programRecord{Name: ps.Name, ProceedOn: ps.ProceedOn, Allowed: ps.Allowed, Shadow: ps.Shadow}, Counter: ps.Counter, Base: ps.Base, EmptyBase: ps.EmptyBase})
	}
	return r
}

// check refuses a layout whose rows or column the readers could not use.
func (c counting) check() error {
	switch c.how {
	case countingPerSlot:
	case countingOnce:
		if c.ftColumn != colInvalid && c.ftColumn != colDenied {
			return fmt.Errorf("fall-through counted in column %d of row 0, want %d or %d", c.ftColumn, colInvalid, colDenied)
		}
	default:
		return fmt.Errorf("unknown counting %q", c.how)
	}
	for _, ps := range c.programs {
		if ps.Counter > maxCounters {
			return fmt.Errorf("program %q: counter row %d out of range", ps.Name, ps.Counter)
		}
	}
	return nil
}

// counts returns what each program of s counted, in all generations, and
// the packets that fell through the interface's chains.
func (s *state) counts(per []dispatcherXdpchainCounters) ([]Stats, uint64) {
	// Row 0's verdict columns: fall-through of countingPerSlot generations.
	legacy := rowOf(per, 0)
	ft := legacy[0] + legacy[1] + legacy[2] + legacy[3] + legacy[4] + s.FallthroughTotal
	var retired map[string]Stats
	if s.Retired != nil {
		var rft uint64
		retired, rft = generationCounts(s.Retired.counting(), per)
		ft += rft
	}
	live, lft := generationCounts(s.counting(), per)
	ft += lft
	out := make([]Stats, len(s.Programs))
	for i, ps := range s.Programs {
		out[i] = ps.Total.plus(retired[ps.Name]).plus(live[ps.Name])
	}
	return out, ft
}
