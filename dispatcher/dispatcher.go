package dispatcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Spec is the desired state of one interface: everything a dispatcher
// generation is built from.
type Spec struct {
	// Programs in any order; Apply sorts them (ascending priority, ties by
	// name).
	Programs Chain
	// Fallthrough is returned when the last program continues the chain, and
	// by an empty chain. Its zero value means the default, XDP_PASS:
	// XDP_ABORTED reports program errors and cannot be a fall-through
	// verdict (use Drop for default-deny).
	Fallthrough Verdict
	// Mechanism fills the slots; empty keeps the root's current one.
	Mechanism MechanismKind
	// NoCounters builds the dispatcher without per-program counters.
	NoCounters bool
}

// Root is an interface's xdpchain root: a dispatcher attached by a pinned
// bpf_link. Several processes may hold a Root for the same interface; every
// change takes the interface's lock and re-reads the pins first.
type Root struct {
	opts    Options
	ifname  string
	ifindex int
	ns      *netNS
	pins    pinDir
	link    link.Link
	stats   *ebpf.Map
	st      *state
	// created: this Root attached the root and nothing was applied since.
	created bool
}

// Attach opens the root of an interface, creating and attaching it when the
// interface has none. It returns ErrForeignProgram when another XDP program
// is attached there.
func Attach(ifname string, opts *Options) (*Root, error) {
	return open(ifname, opts, true)
}

// Open opens the existing root of an interface; ErrNotAttached if it has
// none.
func Open(ifname string, opts *Options) (*Root, error) {
	return open(ifname, opts, false)
}

func open(ifname string, opts *Options, create bool) (_ *Root, err error) {
	o := opts.withDefaults()
	if err := ensureBPFFS(o.BPFFS); err != nil {
		return nil, err
	}
	ns, err := openNetNS(o.NetNS)
	if err != nil {
		return nil, err
	}
	r := &Root{opts: o, ifname: ifname, ns: ns}
	defer closeOnError(r, &err)

	nl, err := ns.netlink()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer nl.Close()
	l, err := nl.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	r.ifindex = l.Attrs().Index
	r.pins = newPinDir(o, ns.inode, r.ifindex)

	// Looking (Open) leaves everything as it is: it creates, commits and
	// removes nothing. Attach is a change: under the lock it finishes or
	// cleans up what a crashed process left, and creates the root.
	exists, err := r.pins.secure(o, create)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w %q", ErrNotAttached, ifname)
	}
	lock, err := lockDir(r.pins.bpf)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	err = r.read(create)
	if errors.Is(err, ErrNotAttached) && create {
		err = r.create(nl)
		if err == nil {
			r.created = true
		}
	}
	if err != nil {
		return nil, err
	}
	if create {
		pruneStale(o, r.pins)
	}
	if o.Mode != ModeAuto && o.Mode != r.st.Mode {
		return nil, fmt.Errorf("%w: the root of %q is attached in %s mode, not %s; detach it first to change the mode", ErrInvalid, ifname, r.st.Mode, o.Mode)
	}
	return r, nil
}

// Close releases the process's handles. The root stays attached.
func (r *Root) Close() error {
	var errs []error
	if r.link != nil {
		errs = append(errs, r.link.Close())
		r.link = nil
	}
	if r.stats != nil {
		errs = append(errs, r.stats.Close())
		r.stats = nil
	}
	if r.ns != nil {
		errs = append(errs, r.ns.Close())
	}
	return errors.Join(errs...)
}

// Interface returns the interface name and index.
func (r *Root) Interface() (string, int) { return r.ifname, r.ifindex }

// reload re-reads the pins before a change (see read). Call with the lock
// held.
func (r *Root) reload() error { return r.read(true) }

// read re-reads the pins and the committed state. Call with the lock
// held. With clean (a change is under way) it also finishes or undoes an
// apply that a crashed process left half done and removes leftovers: pins,
// objects and temporary files no committed program uses, and the pins of a
// root detached from outside. Without clean it changes nothing and reads
// the chain the kernel runs (see committedState).
func (r *Root) read(clean bool) error {
	if r.link != nil {
		r.link.Close()
		r.link = nil
	}
	if r.stats != nil {
		r.stats.Close()
		r.stats = nil
	}
	if err := r.checkPins(); err != nil {
		return err
	}
	l, err := link.LoadPinnedLink(r.pins.link(), nil)
	if errors.Is(err, fs.ErrNotExist) {
		// A root detached from outside, or state without pins: start over.
		if clean {
			r.pins.removeAll()
		}
		return fmt.Errorf("%w %q", ErrNotAttached, r.ifname)
	}
	if err != nil {
		return fmt.Errorf("opening root link %s: %w", r.pins.link(), err)
	}
	info, err := l.Info()
	if err != nil {
		l.Close()
		return fmt.Errorf("root link info: %w", err)
	}
	if x := info.XDP(); x == nil || int(x.Ifindex) != r.ifindex {
		// The link is defunct: its interface went away or it was detached.
		l.Close()
		if clean {
			r.pins.removeAll()
			return fmt.Errorf("%w %q (stale root cleaned up)", ErrNotAttached, r.ifname)
		}
		return fmt.Errorf("%w %q (stale root: its link is defunct)", ErrNotAttached, r.ifname)
	}
	r.link = l
	running := uint32(info.Program)

	st, pending, err := r.pins.committedState(running)
	if clean {
		switch pending {
		case pendingSwapped:
			// Crashed after the swap, before the commit: finish it.
			os.Rename(r.pins.pendingFile(), r.pins.stateFile())
		case pendingStale:
			os.Remove(r.pins.pendingFile()) // never swapped in, or unreadable
		}
		r.pins.removeTemps() // of a process killed while writing
	}
	if err != nil {
		return fmt.Errorf("%w: root of %q is attached but its state is unreadable (%w); run `xdpchain detach` and load again", ErrInvalid, r.ifname, err)
	}
	r.st = st
	r.stats, err = ebpf.LoadPinnedMap(r.pins.stats(), nil)
	if err != nil {
		return fmt.Errorf("opening counters: %w", err)
	}
	if clean {
		r.cleanupLeftovers()
	}
	return nil
}

// checkPins checks again, under the lock, that the interface's pin and
// state directories are safe to use (see secureDir).
func (r *Root) checkPins() error {
	_, err := r.pins.secure(r.opts, false)
	return err
}

// cleanupLeftovers removes pins and objects no committed program uses.
func (r *Root) cleanupLeftovers() {
	keep := map[string]bool{}
	for _, p := range r.st.Programs {
		keep[p.Name] = true
	}
	removeUnlisted(r.pins.mapsDir(), keep)
	if m, err := newMechanism(r.st.Mechanism); err == nil {
		m.cleanup(r.pins, r.st)
	}
	r.pins.gcObjects(r.st)
}

// create attaches a new, empty dispatcher. Call with the lock held.
func (r *Root) create(nl *netlink.Handle) (err error) {
	if err := r.checkForeign(nl); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			r.pins.removeAll()
		}
	}()
	mech, reason := ResolveMechanism(r.opts.Mechanism)
	if _, err := newMechanism(mech); err != nil {
		return err
	}
	if mech == Freplace && r.opts.Mechanism == Freplace {
		if err := probeFreplace(); err != nil {
			return err
		}
	}
	r.stats, err = newStatsMap()
	if err != nil {
		return err
	}
	if err := r.stats.Pin(r.pins.stats()); err != nil {
		return fmt.Errorf("pinning counters: %w", err)
	}
	g := &generation{pins: r.pins, fallthrough_: Pass, counters: true, frags: true, stats: r.stats, verifierLogs: r.opts.VerifierLogs}
	defer g.close()
	if err := g.prepareRoot(); err != nil {
		return err
	}
	prog, err := loadProgram(rootProgramName, g.rootSpec, r.opts.VerifierLogs)
	if err != nil {
		return err
	}
	g.prog = prog
	mode, l, err := r.attach(prog)
	if err != nil {
		return err
	}
	r.link = l
	if err := l.Pin(r.pins.link()); err != nil {
		l.Close()
		return fmt.Errorf("pinning root link: %w", err)
	}
	st := &state{
		Interface:   r.ifname,
		Ifindex:     r.ifindex,
		NetNS:       r.opts.NetNS,
		NetNSInode:  r.ns.inode,
		Mode:        mode,
		Mechanism:   mech,
		Requested:   r.opts.Mechanism,
		Reason:      reason,
		Fallthrough: Pass,
		Programs:    []programState{},
	}
	st.DispatcherID, err = programID(prog)
	if err != nil {
		return err
	}
	if err := writeState(r.pins.stateFile(), st); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	r.st = st
	return nil
}

// attach attaches prog in the configured mode (auto: native, else skb).
func (r *Root) attach(prog *ebpf.Program) (Mode, link.Link, error) {
	try := []Mode{r.opts.Mode}
	if r.opts.Mode == ModeAuto {
		try = []Mode{ModeNative, ModeSKB}
	}
	var errs []error
	for _, m := range try {
		flags := link.XDPDriverMode
		if m == ModeSKB {
			flags = link.XDPGenericMode
		}
		var l link.Link
		err := r.ns.do(func() (err error) {
			l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: r.ifindex, Flags: flags})
			return err
		})
		if err == nil {
			return m, l, nil
		}
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return "", nil, fmt.Errorf("%w: attaching to %q: %v", ErrForeignProgram, r.ifname, err)
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	return "", nil, fmt.Errorf("attaching root to %q: %w", r.ifname, errors.Join(errs...))
}

// checkForeign refuses interfaces that carry an XDP program not ours.
func (r *Root) checkForeign(nl *netlink.Handle) error {
	l, err := nl.LinkByIndex(r.ifindex)
	if err != nil {
		return fmt.Errorf("interface %q: %w", r.ifname, err)
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return nil
	}
	name := "?"
	if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId)); err == nil {
		if info, err := p.Info(); err == nil {
			name = info.Name
		}
		p.Close()
	}
	what := ""
	switch name {
	case "xdp_dispatcher":
		what = " (a libxdp dispatcher: remove it with `xdp-loader unload --all " + r.ifname + "`)"
	case rootProgramName:
		what = " (an xdpchain root whose pins are missing: was it attached inside `ip netns exec` or with another bpffs?)"
	}
	return fmt.Errorf("%w: %q carries XDP program %d %q%s; xdpchain will not replace it", ErrForeignProgram, r.ifname, x.ProgId, name, what)
}

func programID(p *ebpf.Program) (uint32, error) {
	info, err := p.Info()
	if err != nil {
		return 0, fmt.Errorf("program info: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, fmt.Errorf("program info: kernel reports no ID")
	}
	return uint32(id), nil
}

// Detach removes the root from the interface, with every pin and all state
// of the interface. The interface then runs no XDP program.
func (r *Root) Detach() error {
	lock, err := lockDir(r.pins.bpf)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := r.checkPins(); err != nil {
		return err
	}
	if r.link != nil {
		if rl, ok := r.link.(interface{ Detach() error }); ok {
			if err := rl.Detach(); err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("detaching root of %q: %w", r.ifname, err)
			}
		}
		r.link.Unpin()
		r.link.Close()
		r.link = nil
	}
	if r.stats != nil {
		r.stats.Close()
		r.stats = nil
	}
	if err := r.pins.removeAll(); err != nil {
		return fmt.Errorf("removing pins: %w", err)
	}
	lock.Unlock()
	r.pins.removeEmptyDirs()
	pruneStale(r.opts, r.pins)
	return nil
}
