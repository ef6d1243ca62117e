package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/xdp"
)

const xdpPass = uint32(xdp.Pass)

// Suite is every configuration of a run, set up and ready to measure, one
// phase (test program) at a time: NewSuite sets up the first program's
// configurations, Run measures each phase and then sets up the next. The
// programs stay attached until the phase ends or Close.
type Suite struct {
	o     Options
	ns    *benchNS
	work  *workDir
	pkt   []byte
	phase int // index of the current phase's program in o.Programs
	// Probed once per run, when a row needs BPF trampolines.
	trampolines   bool
	noTrampolines string

	subjects []*subject
	// runs counts the packets each subject processed in finished
	// measurements.
	runs []uint64
}

// MaxAttached is how many XDP programs the kernel's XDP BPF dispatcher
// calls directly (BPF_DISPATCHER_MAX); it calls any further attached
// program through a retpoline'd indirect call, which would tilt their rows.
const MaxAttached = 48

// NewSuite creates the run's network namespace and loads and attaches
// every configuration of opts' first test program. Close releases all of
// it.
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
	needsFreplace := o.LibXDP != "" || slices.Contains(o.Mechanisms, dispatcher.Freplace)
	if needsFreplace {
		s.trampolines, s.noTrampolines = freplaceSupport()
	}
	if err := s.setup(o.Programs[0]); err != nil {
		return nil, err
	}
	return s, nil
}

// trying sets up one configuration or the swap timing. Rows that need BPF
// trampolines are tried even where the probe failed (the probe may be
// wrong about a kernel, and libxdp does not depend on it); if their setup
// fails there, it returns the probed reason to skip them for.
func (s *Suite) trying(kind Kind, setup func() error) (skipped string, err error) {
	err = setup()
	if err != nil && needsTrampolines(kind) && !s.trampolines {
		return s.noTrampolines, err
	}
	return "", err
}

// setup loads and attaches every configuration of one test program.
func (s *Suite) setup(program string) error {
	o := &s.o
	add := func(row Row, setup func() (*subject, error)) error {
		if row.Skipped != "" {
			progressf(o.Progress, "skip  %s: %s", row.Label(), row.Skipped)
			s.subjects = append(s.subjects, &subject{row: row})
			return nil
		}
		progressf(o.Progress, "setup %s", row.Label())
		var sub *subject
		skipped, err := s.trying(row.Kind, func() (err error) { sub, err = setup(); return err })
		if skipped != "" {
			row.Skipped = skipped
			progressf(o.Progress, "skip  %s: %s (setting up: %v)", row.Label(), row.Skipped, err)
			s.subjects = append(s.subjects, &subject{row: row})
			return nil
		}
		if err != nil {
			return fmt.Errorf("setting up %s: %w", row.Label(), err)
		}
		sub.row.Observed = row.Observed
		s.subjects = append(s.subjects, sub)
		return nil
	}

	if err := add(Row{Kind: Plain, Program: program, Programs: 1}, func() (*subject, error) { return plainSubject(s.ns, program) }); err != nil {
		return err
	}
	for _, inline := range []bool{false, true} {
		for _, n := range o.Counts {
			if !haveMonolithic(n) {
				continue
			}
			row := Row{Kind: Monolithic, Program: program, Programs: n}
			if inline {
				row.Kind = MonolithicInline
			}
			if err := add(row, func() (*subject, error) { return monolithicSubject(s.ns, program, n, inline) }); err != nil {
				return err
			}
		}
	}
	for _, n := range o.Counts {
		if n == 0 {
			continue
		}
		row := Row{Kind: TailCall, Program: program, Programs: n, Skipped: tailCallSkip(n)}
		if err := add(row, func() (*subject, error) { return tailCallSubject(s.ns, program, n) }); err != nil {
			return err
		}
	}
	for _, mech := range o.Mechanisms {
		for _, n := range o.Counts {
			for _, counters := range []bool{true, false} {
				row := Row{Kind: Kind(mech), Program: program, Programs: n, Counters: countersOf(counters)}
				err := add(row, func() (*subject, error) { return dispatcherSubject(s.ns, o, program, mech, n, counters, nil) })
				if err != nil {
					return err
				}
			}
		}
	}
	// Observed: the inline mechanism (else the first measured), counters
	// on, with each observation's probes.
	mech := o.Mechanisms[0]
	if slices.Contains(o.Mechanisms, dispatcher.Inline) {
		mech = dispatcher.Inline
	}
	for _, n := range o.ObservedCounts {
		if n == 0 || !slices.Contains(o.Counts, n) {
			continue
		}
		for _, obs := range Observations {
			probe := obs.Probe(programChain(program, n)[n-1].Name)
			row := Row{Kind: Kind(mech), Program: program, Programs: n, Counters: CountersOn, Observed: obs.Name}
			if err := add(row, func() (*subject, error) { return dispatcherSubject(s.ns, o, program, mech, n, true, &probe) }); err != nil {
				return err
			}
		}
	}
	if o.LibXDP != "" {
		for _, n := range o.LibXDPCounts {
			row := Row{Kind: LibXDP, Program: program, Programs: n}
			if err := add(row, func() (*subject, error) { return libxdpSubject(s.ns, o.LibXDP, program, n) }); err != nil {
				return err
			}
		}
	}
	s.runs = make([]uint64, len(s.subjects))
	return nil
}

// needsTrampolines reports whether rows of kind k use freplace.
func needsTrampolines(k Kind) bool { return k == Freplace || k == LibXDP }

// Rows returns the current phase's configurations in measuring order;
// skipped ones carry their reason.
func (s *Suite) Rows() []Row {
	out := make([]Row, len(s.subjects))
	for i, sub := range s.subjects {
		out[i] = sub.row
	}
	return out
}

// Measure runs configuration i of the current phase once with repeat runs
// (the suite's Repeat when repeat is 0).
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

// Check makes sure every dispatcher of the current phase measured is the
// one configured (see checkCounters).
func (s *Suite) Check() error {
	var errs []error
	for i, sub := range s.subjects {
		if sub.check != nil {
			errs = append(errs, sub.check(s.runs[i]))
		}
	}
	return errors.Join(errs...)
}

// Run measures every phase (test program) in turn, then times the
// generation swaps, then analyses the medians. A phase is a warm-up of
// Repeat/10 runs of each configuration, then Rounds rounds over all of
// them (each round starting one configuration further on, so that drift
// spreads evenly); its configurations are released before the next
// phase's are set up.
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
	for {
		rows, err := s.runPhase(ctx)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, rows...)
		if attached := countAttached(rows); attached > MaxAttached {
			res.Notes = append(res.Notes, fmt.Sprintf("%d %s configurations were attached at once, more than the %d programs the kernel's XDP dispatcher calls directly: some rows paid an indirect call", attached, s.o.Programs[s.phase], MaxAttached))
		}
		if s.phase+1 == len(s.o.Programs) {
			break
		}
		if err := s.closeSubjects(); err != nil {
			return nil, err
		}
		s.phase++
		if err := s.setup(s.o.Programs[s.phase]); err != nil {
			return nil, err
		}
	}
	if s.o.SwapPrograms > 0 {
		if err := s.closeSubjects(); err != nil {
			return nil, err
		}
		program := swapProgram(s.o.Programs)
		for _, mech := range s.o.Mechanisms {
			progressf(s.o.Progress, "swap  %s %d %s", mech, s.o.SwapPrograms, program)
			var st SwapTime
			skipped, err := s.trying(Kind(mech), func() (err error) {
				st, err = timeSwaps(ctx, s.ns, &s.o, mech, program)
				return err
			})
			if skipped != "" {
				st = SwapTime{Mechanism: Kind(mech), Program: program, Programs: s.o.SwapPrograms, Skipped: skipped}
			} else if err != nil {
				return nil, fmt.Errorf("timing %s swaps: %w", mech, err)
			}
			res.Swaps = append(res.Swaps, st)
		}
	}
	res.analyze()
	return res, nil
}

// runPhase measures the current phase's configurations and returns their
// rows.
func (s *Suite) runPhase(ctx context.Context) ([]Row, error) {
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
			progressf(s.o.Progress, "round %d/%d  %-40s %8.2f ns/pkt", round+1, s.o.Rounds, s.subjects[i].row.Label(), sample.NsPerPacket)
		}
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	var rows []Row
	for i, sub := range s.subjects {
		row := sub.row
		row.Samples = samples[i]
		row.summarize()
		rows = append(rows, row)
	}
	return rows, nil
}

// countAttached is how many of rows had a program attached: every measured
// one.
func countAttached(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Skipped == "" {
			n++
		}
	}
	return n
}

// closeSubjects releases the current phase's configurations.
func (s *Suite) closeSubjects() error {
	var errs []error
	for i := len(s.subjects) - 1; i >= 0; i-- {
		errs = append(errs, s.subjects[i].Close())
	}
	s.subjects = nil
	s.runs = nil
	return errors.Join(errs...)
}

// Close detaches and unloads everything and removes the network namespace.
func (s *Suite) Close() error {
	errs := []error{s.closeSubjects()}
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
