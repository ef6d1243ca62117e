package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// subject is one configuration under measurement: the program that
// BPF_PROG_TEST_RUN runs and what keeps it set up.
type subject struct {
	row     Row
	prog    *ebpf.Program
	closers []io.Closer
	// check runs after the measurements; total is the number of runs made.
	check func(total uint64) error
}

func (s *subject) Close() error {
	var errs []error
	// Release in reverse order of acquisition.
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i].Close())
	}
	s.closers = nil
	return errors.Join(errs...)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// noopSpec returns the no-op test program's spec.
func noopSpec() (*ebpf.ProgramSpec, error) {
	cs, err := testprogs.Spec(testprogs.Noop)
	if err != nil {
		return nil, err
	}
	ps, ok := cs.Programs[testprogs.Program(testprogs.Noop)]
	if !ok {
		return nil, fmt.Errorf("no program %q in %s", testprogs.Program(testprogs.Noop), testprogs.Noop)
	}
	return ps, nil
}

// plainSubject loads the no-op program alone and attaches it directly to
// an interface of ns by bpf_link.
func plainSubject(ns *benchNS) (_ *subject, err error) {
	s := &subject{row: Row{Kind: Plain, Programs: 1}}
	defer closeOnError(s, &err)
	ps, err := noopSpec()
	if err != nil {
		return nil, err
	}
	s.prog, err = ebpf.NewProgram(ps)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", testprogs.Noop, err)
	}
	s.closers = append(s.closers, s.prog)
	if err := attachXDP(ns, s, s.prog); err != nil {
		return nil, err
	}
	return s, nil
}

// attachXDP attaches prog to a new veth of ns and keeps the link in s.
func attachXDP(ns *benchNS, s *subject, prog *ebpf.Program) error {
	ifname, ifindex, err := ns.newVeth()
	if err != nil {
		return err
	}
	return ns.do(func() error {
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex})
		if err != nil {
			return fmt.Errorf("attaching to %s: %w", ifname, err)
		}
		s.closers = append(s.closers, l)
		return nil
	})
}

// monolithicSubject loads the hand-written program that runs n no-ops and
// attaches it to a veth of ns like every other row: an attached XDP program
// is called directly by the kernel's BPF dispatcher, a detached one through
// a retpoline'd indirect call, which would tilt the comparison.
func monolithicSubject(ns *benchNS, n int, inline bool) (_ *subject, err error) {
	kind := Monolithic
	if inline {
		kind = MonolithicInline
	}
	s := &subject{row: Row{Kind: kind, Programs: n}}
	defer closeOnError(s, &err)
	name := testprogs.Monolithic(n, inline)
	cs, err := testprogs.Spec(name)
	if err != nil {
		return nil, err
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	s.closers = append(s.closers, closerFunc(func() error { coll.Close(); return nil }))
	s.prog = coll.Programs[testprogs.Program(name)]
	if s.prog == nil {
		return nil, fmt.Errorf("no program %q in %s", testprogs.Program(name), name)
	}
	if err := attachXDP(ns, s, s.prog); err != nil {
		return nil, err
	}
	return s, nil
}

// haveMonolithic reports whether a monolithic object with n no-ops exists.
func haveMonolithic(n int) bool {
	switch n {
	case 1, 4, 16, 64:
		return true
	}
	return false
}

// noopChain is a chain of n no-op programs that proceed on pass.
func noopChain(n int) dispatcher.Chain {
	obj := testprogs.Object(testprogs.Noop)
	chain := make(dispatcher.Chain, n)
	for i := range chain {
		chain[i] = dispatcher.Program{
			Name:        fmt.Sprintf("noop%02d", i),
			Priority:    dispatcher.DefaultPriority,
			ProceedOn:   dispatcher.DefaultProceedOn,
			Object:      obj,
			ProgramName: testprogs.Program(testprogs.Noop),
		}
	}
	return chain
}

// dispatcherSubject attaches an xdpchain root to a new veth of ns, fills
// it with n no-op programs and opens the running dispatcher by its ID.
func dispatcherSubject(ns *benchNS, o *Options, mech dispatcher.MechanismKind, n int, counters bool) (_ *subject, err error) {
	s := &subject{row: Row{Kind: Kind(mech), Programs: n, Counters: countersOf(counters)}}
	defer closeOnError(s, &err)
	ifname, _, err := ns.newVeth()
	if err != nil {
		return nil, err
	}
	root, err := dispatcher.Attach(ifname, &dispatcher.Options{
		NetNS:     ns.name,
		BPFFS:     o.BPFFS,
		StateDir:  o.StateDir,
		Mechanism: mech,
	})
	if err != nil {
		return nil, fmt.Errorf("attaching the dispatcher to %s: %w", ifname, err)
	}
	s.closers = append(s.closers, root, closerFunc(root.Detach))
	err = root.Update(func(sp *dispatcher.Spec) error {
		sp.Programs = noopChain(n)
		sp.Mechanism = mech
		sp.NoCounters = !counters
		sp.Fallthrough = dispatcher.Pass
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading %d no-op programs (%s): %w", n, mech, err)
	}
	st, err := root.Status()
	if err != nil {
		return nil, err
	}
	if st.Mechanism != mech || len(st.Programs) != n {
		return nil, fmt.Errorf("dispatcher on %s runs %d programs by %s, want %d by %s", ifname, len(st.Programs), st.Mechanism, n, mech)
	}
	s.prog, err = ebpf.NewProgramFromID(ebpf.ProgramID(st.DispatcherID))
	if err != nil {
		return nil, fmt.Errorf("opening dispatcher %d: %w", st.DispatcherID, err)
	}
	s.closers = append(s.closers, s.prog)
	// Count from here: the generation Attach created counted whatever the
	// interface saw before.
	before, err := counts(root, n)
	if err != nil {
		return nil, err
	}
	s.check = func(total uint64) error { return checkCounters(root, s.row, before, total) }
	return s, nil
}

// counts returns the packets counted for each program of the chain or, for
// an empty chain, by the fall-through.
func counts(root *dispatcher.Root, n int) ([]uint64, error) {
	st, err := root.Status()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []uint64{st.FallthroughPackets}, nil
	}
	out := make([]uint64, 0, len(st.Programs))
	for _, p := range st.Programs {
		out = append(out, p.Stats.Total())
	}
	return out, nil
}

// checkCounters makes sure the measured dispatcher is the one configured:
// with counters on every program (or, for an empty chain, the fall-through)
// counted at least total packets since before; with counters off nothing
// was counted.
func checkCounters(root *dispatcher.Root, row Row, before []uint64, total uint64) error {
	after, err := counts(root, row.Programs)
	if err != nil {
		return err
	}
	if len(after) != len(before) {
		return fmt.Errorf("%s: %d counters, had %d", row.Label(), len(after), len(before))
	}
	for i := range after {
		c := after[i] - before[i]
		bad, want := c != 0, "0"
		if row.Counters == CountersOn {
			bad, want = c < total, fmt.Sprintf("at least %d", total)
		}
		if bad {
			return fmt.Errorf("%s: counter %d counted %d packets, want %s", row.Label(), i, c, want)
		}
	}
	return nil
}

func countersOf(on bool) Counters {
	if on {
		return CountersOn
	}
	return CountersOff
}

// freplaceSupport probes the kernel once for BPF trampolines; it returns
// the reason when freplace is unavailable.
func freplaceSupport() (bool, string) {
	for _, f := range dispatcher.Features() {
		if strings.Contains(f.Name, "freplace") {
			return f.Supported, f.Reason
		}
	}
	return false, "no freplace probe"
}

func closeOnError(c io.Closer, err *error) {
	if *err != nil {
		*err = errors.Join(*err, c.Close())
	}
}
