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
	row  Row
	prog *ebpf.Program
	// links are a tail-call chain's programs, in chain order.
	links   []*ebpf.Program
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

// programSpec returns the spec of a test program (ProgramNoop,
// ProgramUDP: the names of their objects in testprogs).
func programSpec(program string) (*ebpf.ProgramSpec, error) {
	cs, err := testprogs.Spec(program)
	if err != nil {
		return nil, err
	}
	ps, ok := cs.Programs[testprogs.Program(program)]
	if !ok {
		return nil, fmt.Errorf("no program %q in %s", testprogs.Program(program), program)
	}
	return ps, nil
}

// loadCollection loads the embedded test object name with only the
// programs keep accepts (nil: all of them); s keeps it until it closes.
func loadCollection(s *subject, name string, keep func(program string) bool) (*ebpf.Collection, error) {
	cs, err := testprogs.Spec(name)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		for p := range cs.Programs {
			if !keep(p) {
				delete(cs.Programs, p)
			}
		}
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	s.closers = append(s.closers, closerFunc(func() error { coll.Close(); return nil }))
	return coll, nil
}

// loadProgram loads the embedded test object name and returns its program
// (testprogs.Program); s keeps it until it closes.
func loadProgram(s *subject, name string) (*ebpf.Program, error) {
	coll, err := loadCollection(s, name, nil)
	if err != nil {
		return nil, err
	}
	prog := coll.Programs[testprogs.Program(name)]
	if prog == nil {
		return nil, fmt.Errorf("no program %q in %s", testprogs.Program(name), name)
	}
	return prog, nil
}

// plainSubject loads the test program alone and attaches it directly to an
// interface of ns by bpf_link.
func plainSubject(ns *benchNS, program string) (_ *subject, err error) {
	s := &subject{row: Row{Kind: Plain, Program: program, Programs: 1}}
	defer closeOnError(s, &err)
	ps, err := programSpec(program)
	if err != nil {
		return nil, err
	}
	s.prog, err = ebpf.NewProgram(ps)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", program, err)
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
	return attachXDPTo(ns, s, prog, ifname, ifindex)
}

// attachXDPTo attaches prog to interface ifname (ifindex) of ns and keeps
// the link in s.
func attachXDPTo(ns *benchNS, s *subject, prog *ebpf.Program, ifname string, ifindex int) error {
	return ns.do(func() error {
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex})
		if err != nil {
			return fmt.Errorf("attaching to %s: %w", ifname, err)
		}
		s.closers = append(s.closers, l)
		return nil
	})
}

// monolithicSubject loads the hand-written program that runs n bodies of
// the test program and attaches it to a veth of ns like every other row: an
// attached XDP program is called directly by the kernel's BPF dispatcher, a
// detached one through a retpoline'd indirect call, which would tilt the
// comparison.
func monolithicSubject(ns *benchNS, program string, n int, inline bool) (_ *subject, err error) {
	kind := Monolithic
	if inline {
		kind = MonolithicInline
	}
	s := &subject{row: Row{Kind: kind, Program: program, Programs: n}}
	defer closeOnError(s, &err)
	if s.prog, err = loadProgram(s, testprogs.MonolithicOf(program, n, inline)); err != nil {
		return nil, err
	}
	if err := attachXDP(ns, s, s.prog); err != nil {
		return nil, err
	}
	return s, nil
}

// haveMonolithic reports whether a monolithic object with n bodies exists.
func haveMonolithic(n int) bool {
	switch n {
	case 1, 4, 10, 16, 64:
		return true
	}
	return false
}

// programChain is a chain of n copies of the test program that proceed on
// pass.
func programChain(program string, n int) dispatcher.Chain {
	obj := testprogs.Object(program)
	chain := make(dispatcher.Chain, n)
	for i := range chain {
		chain[i] = dispatcher.Program{
			Name:        fmt.Sprintf("%s%02d", program, i),
			Priority:    dispatcher.DefaultPriority,
			ProceedOn:   dispatcher.DefaultProceedOn,
			Object:      obj,
			ProgramName: testprogs.Program(program),
		}
	}
	return chain
}

// attachRoot attaches an xdpchain root by mech to a new veth of ns and
// fills it with chain; s keeps it until it is closed.
func attachRoot(ns *benchNS, o *Options, s *subject, mech dispatcher.Mechanism, chain dispatcher.Chain, counters bool) (*dispatcher.Root, error) {
	ifname, _, err := ns.newVeth()
	if err != nil {
		return nil, err
	}
	return attachRootTo(ns, o.BPFFS, o.StateDir, s, ifname, mech, chain, counters)
}

// attachRootTo attaches an xdpchain root by mech to interface ifname of
// ns, with pins and state under bpffs and stateDir, and fills it with
// chain; s keeps it until it is closed.
func attachRootTo(ns *benchNS, bpffs, stateDir string, s *subject, ifname string, mech dispatcher.Mechanism, chain dispatcher.Chain, counters bool) (*dispatcher.Root, error) {
	root, err := dispatcher.Attach(ifname, &dispatcher.Options{
		NetNS:     ns.name,
		BPFFS:     bpffs,
		StateDir:  stateDir,
		Mechanism: mech,
	})
	if err != nil {
		return nil, fmt.Errorf("attaching the dispatcher to %s: %w", ifname, err)
	}
	s.closers = append(s.closers, root, closerFunc(root.Detach))
	_, err = root.Update(func(sp *dispatcher.Spec) error {
		sp.Programs = chain
		sp.Mechanism = mech
		sp.NoCounters = !counters
		sp.Fallthrough = dispatcher.Pass
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading %d programs (%s): %w", len(chain), mech, err)
	}
	st, err := root.Status()
	if err != nil {
		return nil, err
	}
	if st.Mechanism != mech || len(st.Programs) != len(chain) {
		return nil, fmt.Errorf("dispatcher on %s runs %d programs by %s, want %d by %s", ifname, len(st.Programs), st.Mechanism, len(chain), mech)
	}
	return root, nil
}

// dispatcherSubject attaches an xdpchain root to a new veth of ns, fills
// it with n copies of the test program, observes it with probe (when not
// nil) and opens the running dispatcher by its ID.
func dispatcherSubject(ns *benchNS, o *Options, program string, mech dispatcher.Mechanism, n int, counters bool, probe *dispatcher.Probe) (_ *subject, err error) {
	s := &subject{row: Row{Kind: Kind(mech), Program: program, Programs: n, Counters: countersOf(counters)}}
	defer closeOnError(s, &err)
	root, err := attachRoot(ns, o, s, mech, programChain(program, n), counters)
	if err != nil {
		return nil, err
	}
	if probe != nil {
		obs, err := root.Observe(*probe)
		if err != nil {
			return nil, fmt.Errorf("observing: %w", err)
		}
		s.closers = append(s.closers, obs)
	}
	st, err := root.Status()
	if err != nil {
		return nil, err
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
