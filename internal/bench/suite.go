package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/dispatcher"
)

const xdpPass = 2

// Suite is every configuration of a run, set up and ready to measure. The
// programs stay attached until Close.
type Suite struct {
	o        Options
	ns       *benchNS
	work     *workDir
	pkt      []byte
	subjects []*subject
	// runs counts the packets each subject processed in finished
	// measurements.
	runs []uint64
}

// NewSuite creates the run's network namespace and loads and attaches
// every configuration of opts. Close releases all of it.
func NewSuite(opts *Options) (_ *Suite, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.LibXDP != "" {
		if _, err := os.Stat(o.LibXDP); err != nil {
			return nil, fmt.Errorf("libxdp dispatcher: %w", err)
		}
	}
	s := &Suite{o: o, pkt: udpPacket()}
	defer closeOnError(s, &err)
	if s.o.StateDir == "" || s.o.BPFFS == "" {
		s.work, err = newWorkDir(s.o.BPFFS == "")
		if err != nil {
			return nil, err
		}
		if s.o.StateDir == "" {
			s.o.StateDir = s.work.state()
		}
		if s.o.BPFFS == "" {
			s.o.BPFFS = s.work.bpffs()
		}
	}
	s.ns, err = newBenchNS()
	if err != nil {
		return nil, err
	}

	var trampolines bool
	var noTrampolines string
	needsFreplace := o.LibXDP != ""
	for _, m := range o.Mechanisms {
		needsFreplace = needsFreplace || m == dispatcher.Freplace
	}
	if needsFreplace {
		trampolines, noTrampolines = freplaceSupport()
	}

	// add sets up one configuration. Rows that need BPF trampolines are
	// tried even where the probe failed (the probe may be wrong about a
	// kernel, and libxdp does not depend on it); if their setup fails
	// there, they are skipped with the probed reason.
	add := func(row Row, setup func() (*subject, error)) error {
		progressf(o.Progress, "setup %s", row.Label())
		sub, err := setup()
		if err != nil && needsTrampolines(row.Kind) && !trampolines {
			row.Skipped = noTrampolines
			progressf(o.Progress, "skip  %s: %s (setting up: %v)", row.Label(), row.Skipped, err)
			s.subjects = append(s.subjects, &subject{row: row})
			return nil
		}
		if err != nil {
			return fmt.Errorf("setting up %s: %w", row.Label(), err)
		}
		s.subjects = append(s.subjects, sub)
		return nil
	}

	if err := add(Row{Kind: Plain, Programs: 1}, func() (*subject, error) { return plainSubject(s.ns) }); err != nil {
		return nil, err
	}
	for _, inline := range []bool{false, true} {
		for _, n := range o.Counts {
			if !haveMonolithic(n) {
				continue
			}
			row := Row{Kind: Monolithic, Programs: n}
			if inline {
				row.Kind = MonolithicInline
			}
			if err := add(row, func() (*subject, error) { return monolithicSubject(s.ns, n, inline) }); err != nil {
				return nil, err
			}
		}
	}
	for _, mech := range o.Mechanisms {
		for _, n := range o.Counts {
			for _, counters := range []bool{true, false} {
				row := Row{Kind: Kind(mech), Programs: n, Counters: countersOf(counters)}
				err := add(row, func() (*subject, error) { return dispatcherSubject(s.ns, &s.o, mech, n, counters) })
				if err != nil {
					return nil, err
				}
			}
		}
	}
	if o.LibXDP != "" {
		for _, n := range o.LibXDPCounts {
			row := Row{Kind: LibXDP, Programs: n}
			if err := add(row, func() (*subject, error) { return libxdpSubject(s.ns, o.LibXDP, n) }); err != nil {
				return nil, err
			}
		}
	}
	s.runs = make([]uint64, len(s.subjects))
	return s, nil
}

// needsTrampolines reports whether rows of kind k use freplace.
func needsTrampolines(k Kind) bool { return k == Freplace || k == LibXDP }

// Rows returns the configurations in measuring order; skipped ones carry
// their reason.
func (s *Suite) Rows() []Row {
	out := make([]Row, len(s.subjects))
	for i, sub := range s.subjects {
		out[i] = sub.row
	}
	return out
}

// Measure runs configuration i once with repeat runs (the suite's Repeat
// when repeat is 0).
func (s *Suite) Measure(i, repeat int) (Sample, error) {
	sub := s.subjects[i]
	if sub.row.Skipped != "" {
		return Sample{}, fmt.Errorf("%s: skipped: %s", sub.row.Label(), sub.row.Skipped)
	}
	if repeat == 0 {
		repeat = s.o.Repeat
	}
	sample, err := measure(sub.prog, s.pkt, repeat, xdpPass)
	if err != nil {
		return Sample{}, fmt.Errorf("measuring %s: %w", sub.row.Label(), err)
	}
	s.runs[i] += sample.Runs
	return sample, nil
}

// Check makes sure every dispatcher measured is the one configured (see
// checkCounters).
func (s *Suite) Check() error {
	var errs []error
	for i, sub := range s.subjects {
		if sub.check != nil {
			errs = append(errs, sub.check(s.runs[i]))
		}
	}
	return errors.Join(errs...)
}

// Run measures every configuration: a warm-up of Repeat/10 runs each, then
// Rounds rounds over all configurations (each round starting one
// configuration further on, so that drift spreads evenly), then analyses
// the medians.
func (s *Suite) Run(ctx context.Context) (*Result, error) {
	res := &Result{
		Kernel:  kernelRelease(),
		Started: time.Now(),
		Repeat:  s.o.Repeat,
		Rounds:  s.o.Rounds,
		Packet:  len(s.pkt),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/bpf_stats_enabled"); err == nil {
		res.BPFStats = strings.TrimSpace(string(b)) != "0"
	}
	var active []int
	for i, sub := range s.subjects {
		if sub.row.Skipped == "" {
			active = append(active, i)
		}
	}
	samples := make([][]Sample, len(s.subjects))
	warm := max(s.o.Repeat/10, 1)
	for _, i := range active {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := s.Measure(i, warm); err != nil {
			return nil, err
		}
	}
	for round := 0; round < s.o.Rounds; round++ {
		for k := range active {
			i := active[(k+round)%len(active)]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sample, err := s.Measure(i, 0)
			if err != nil {
				return nil, err
			}
			samples[i] = append(samples[i], sample)
			progressf(s.o.Progress, "round %d/%d  %-36s %8.2f ns/pkt", round+1, s.o.Rounds, s.subjects[i].row.Label(), sample.NsPerPacket)
		}
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	for i, sub := range s.subjects {
		row := sub.row
		row.Samples = samples[i]
		row.summarize()
		res.Rows = append(res.Rows, row)
	}
	res.analyze()
	return res, nil
}

// Close detaches and unloads everything and removes the network namespace.
func (s *Suite) Close() error {
	var errs []error
	for i := len(s.subjects) - 1; i >= 0; i-- {
		errs = append(errs, s.subjects[i].Close())
	}
	s.subjects = nil
	if s.ns != nil {
		errs = append(errs, s.ns.Close())
		s.ns = nil
	}
	if s.work != nil {
		errs = append(errs, s.work.Close())
		s.work = nil
	}
	return errors.Join(errs...)
}

// Run sets up every configuration of opts, measures it and cleans up.
func Run(ctx context.Context, opts *Options) (_ *Result, err error) {
	s, err := NewSuite(opts)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	return s.Run(ctx)
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
