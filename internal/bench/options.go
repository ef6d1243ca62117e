package bench

import (
	"fmt"
	"io"
	"slices"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Defaults.
const (
	// DefaultRepeat is the BPF_PROG_TEST_RUN repeat count of one measurement.
	DefaultRepeat = 1_000_000
	// DefaultRounds is how many times each configuration is measured; rows
	// report the median.
	DefaultRounds = 5
	// LibXDPMaxPrograms is the number of slots of libxdp's dispatcher
	// (MAX_DISPATCHER_ACTIONS).
	LibXDPMaxPrograms = 10
	// DefaultSwapPrograms is the chain length of the generation swap
	// timing (see SwapTime).
	DefaultSwapPrograms = 64
)

// The test programs every row can run (Options.Programs).
const (
	// ProgramNoop returns XDP_PASS (testdata/noop.c).
	ProgramNoop = "noop"
	// ProgramUDP parses Ethernet, IPv4 and UDP with bounds checks and
	// compares the destination port with a constant the benchmark packet
	// does not match (testdata/udp.c).
	ProgramUDP = "udp"
)

// DefaultCounts are the chain lengths measured for the dispatcher.
var DefaultCounts = []int{0, 1, 4, 10, 16, 64}

// DefaultPrograms are the test programs measured, one phase each.
var DefaultPrograms = []string{ProgramNoop, ProgramUDP}

// DefaultMechanisms are the slot mechanisms measured by default.
var DefaultMechanisms = []dispatcher.Mechanism{dispatcher.Linked, dispatcher.Inline}

// DefaultObservedCounts are the chain lengths measured observed (see
// Observations), where Counts has them.
var DefaultObservedCounts = []int{10, 64}

// The sampled profiles' rows: one packet in 1000 (the target),
// and one in 2^30, which in a benchmark's run times only the first packet:
// its rows measure what an unsampled packet pays alone (the sample check),
// where the first pays that plus a thousandth of a timed packet.
//
// The third, one in 100, gives what a timed packet costs (its rows less
// the unsampled path's, times 100), which is too small to single out at
// one in 1000: the checks name its share of the 1/1000 row.
const (
	ObservedSampled   = "profile 1/1000"
	ObservedUnsampled = "profile 1/2^30"
	ObservedEvery100  = "profile 1/100"
)

// Observations are the observed rows' probes: profiling every packet, one
// in 1000, one in 2^30 and one in 100, and a dump armed at the last program's output
// that matches nothing (the benchmark's programs pass every packet; it
// copies drops).
var Observations = []struct {
	Name  string
	Probe func(last string) dispatcher.Probe
}{
	{"profile", func(string) dispatcher.Probe { return dispatcher.Probe{Kind: dispatcher.ProbeProfile} }},
	{ObservedSampled, func(string) dispatcher.Probe { return dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: 1000} }},
	{ObservedUnsampled, func(string) dispatcher.Probe { return dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: 1 << 30} }},
	{ObservedEvery100, func(string) dispatcher.Probe { return dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: 100} }},
	{"dump (no match)", func(last string) dispatcher.Probe {
		return dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: last, Verdicts: dispatcher.NewVerdictSet(dispatcher.Drop)}
	}},
}

// DefaultLibXDPCounts are the chain lengths measured for libxdp's
// dispatcher.
var DefaultLibXDPCounts = []int{1, 4, 10}

// Options configure a run. The zero value measures the defaults with the
// linked mechanism.
type Options struct {
	// Repeat is the BPF_PROG_TEST_RUN repeat count of each measurement.
	// Default DefaultRepeat.
	Repeat int
	// Rounds is how many times every configuration is measured (round
	// robin). Default DefaultRounds.
	Rounds int
	// Counts are the chain lengths (0..64) of the dispatchers, the
	// monolithic programs and the tail-call chains. Default DefaultCounts.
	Counts []int
	// Programs are the test programs (ProgramNoop, ProgramUDP) that every
	// row runs, one phase of the run each: all rows of a program are set
	// up, measured and released before the next program's. Default
	// DefaultPrograms.
	Programs []string
	// Mechanisms are the slot mechanisms measured. Default
	// DefaultMechanisms.
	Mechanisms []dispatcher.Mechanism
	// SwapPrograms is the chain length of the generation swap timing:
	// per mechanism, Rounds Update calls that each replace a chain of
	// SwapPrograms programs by a changed one. Default DefaultSwapPrograms;
	// negative leaves the timing out.
	SwapPrograms int
	// LibXDP is the path of libxdp's xdp-dispatcher.o; empty skips the
	// libxdp rows.
	LibXDP string
	// LibXDPCounts are the chain lengths for libxdp (1..10). Default
	// DefaultLibXDPCounts.
	LibXDPCounts []int
	// BPFFS is the bpffs for the dispatchers' pins. Default: a bpffs
	// mounted in a temporary directory for the run alone and unmounted when
	// it ends, so the run never touches the host's pins.
	BPFFS string
	// StateDir keeps the dispatchers' state. Default: a temporary directory
	// removed when the run ends.
	StateDir string
	// ObservedCounts are the chain lengths measured observed (each of
	// Observations, inline, counters on); only those in Counts. Default
	// DefaultObservedCounts; empty (not nil) leaves them out.
	ObservedCounts []int
	// Progress, when set, receives one line per step.
	Progress io.Writer
}

func (o *Options) withDefaults() (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Repeat == 0 {
		out.Repeat = DefaultRepeat
	}
	if out.Rounds == 0 {
		out.Rounds = DefaultRounds
	}
	if out.Repeat < 1 || out.Rounds < 1 {
		return out, fmt.Errorf("repeat %d and rounds %d must be at least 1", out.Repeat, out.Rounds)
	}
	if out.Counts == nil {
		out.Counts = slices.Clone(DefaultCounts)
	}
	if out.SwapPrograms == 0 {
		out.SwapPrograms = DefaultSwapPrograms
	}
	if out.SwapPrograms > dispatcher.MaxPrograms {
		return out, fmt.Errorf("swap chain length %d: want at most %d", out.SwapPrograms, dispatcher.MaxPrograms)
	}
	if out.LibXDPCounts == nil {
		out.LibXDPCounts = slices.Clone(DefaultLibXDPCounts)
	}
	if out.ObservedCounts == nil {
		out.ObservedCounts = slices.Clone(DefaultObservedCounts)
	}
	if out.Mechanisms == nil {
		out.Mechanisms = slices.Clone(DefaultMechanisms)
	}
	for _, n := range out.Counts {
		if n < 0 || n > dispatcher.MaxPrograms {
			return out, fmt.Errorf("chain length %d: want 0..%d", n, dispatcher.MaxPrograms)
		}
	}
	for _, n := range out.LibXDPCounts {
		if n < 1 || n > LibXDPMaxPrograms {
			return out, fmt.Errorf("libxdp chain length %d: want 1..%d", n, LibXDPMaxPrograms)
		}
	}
	for _, m := range out.Mechanisms {
		if m != dispatcher.Linked && m != dispatcher.Freplace && m != dispatcher.Inline {
			return out, fmt.Errorf("mechanism %q: want linked, inline or freplace", m)
		}
	}
	programs, err := testPrograms(out.Programs)
	if err != nil {
		return out, err
	}
	out.Programs = programs
	out.Mechanisms = unique(out.Mechanisms)
	slices.Sort(out.Counts)
	out.Counts = slices.Compact(out.Counts)
	slices.Sort(out.LibXDPCounts)
	out.LibXDPCounts = slices.Compact(out.LibXDPCounts)
	return out, nil
}

// testPrograms checks a list of test programs (nil: DefaultPrograms) and
// returns it without repeats.
func testPrograms(programs []string) ([]string, error) {
	if programs == nil {
		return slices.Clone(DefaultPrograms), nil
	}
	if len(programs) == 0 {
		return nil, fmt.Errorf("no test program: want %s and/or %s", ProgramNoop, ProgramUDP)
	}
	for _, p := range programs {
		if p != ProgramNoop && p != ProgramUDP {
			return nil, fmt.Errorf("test program %q: want %s or %s", p, ProgramNoop, ProgramUDP)
		}
	}
	return unique(programs), nil
}

// unique returns v without repeated elements, in the order of their first
// occurrence.
func unique[T comparable](v []T) []T {
	var out []T
	for _, x := range v {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
