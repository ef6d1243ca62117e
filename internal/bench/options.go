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
)

// DefaultCounts are the chain lengths measured for the dispatcher.
var DefaultCounts = []int{0, 1, 4, 16, 64}

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
	// Counts are the dispatcher chain lengths (0..64). Default
	// DefaultCounts, plus 10 when LibXDP is set.
	Counts []int
	// Mechanisms are the slot mechanisms measured. Default linked.
	Mechanisms []dispatcher.MechanismKind
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
		if out.LibXDP != "" {
			out.Counts = append(out.Counts, LibXDPMaxPrograms)
		}
	}
	if out.LibXDPCounts == nil {
		out.LibXDPCounts = slices.Clone(DefaultLibXDPCounts)
	}
	if out.Mechanisms == nil {
		out.Mechanisms = []dispatcher.MechanismKind{dispatcher.Linked}
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
		if m != dispatcher.Linked && m != dispatcher.Freplace {
			return out, fmt.Errorf("mechanism %q: want linked or freplace", m)
		}
	}
	slices.Sort(out.Counts)
	out.Counts = slices.Compact(out.Counts)
	slices.Sort(out.LibXDPCounts)
	out.LibXDPCounts = slices.Compact(out.LibXDPCounts)
	return out, nil
}
