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
	// Revision is the chain's revision when it was read (0 before the
	// first change): every committed change of the chain increments it; a
	// generation built only to add or remove observers' probes does not.
	// An Update function compares it to the revision it expects for a
	// compare-and-swap; changing it has no effect.
	Revision uint64
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
	// created: this Root attached the root and no Update ran since;
	// firstChange: the Update running is the first since.
	created, firstChange bool
}

// Attach opens the root of an interface, creating and attaching it when the
// interface has none. It returns ErrForeignProgram when another XDP program
// is attached there. A root Attach created is detached again if the apply of
// the first Update through this Root fails (the interface is left as it
// was); a first Update that succeeds, even with an empty chain, or whose fn
// refuses, keeps it.
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
	if err := requirePrivileges(); err != nil {
		return nil, err
	}
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
	lock, err := lockDir(r.pins.bpf, create)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q", ErrNotAttached, ifname) // detached meanwhile
	}
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	defer func() {
		// A root that is not there (a failed Attach, a root detached from
		// outside) leaves no empty directory behind. Under the lock: a
		// process waiting for it finds the directory gone and starts over.
		if err != nil && r.link == nil {
			r.pins.removeEmptyDirs()
		}
	}()
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
		pruneStale(o, r.pins, false)
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

// Running says, with one BPF_OBJ_GET_INFO_BY_FD on the link the Root
// holds, whether the root is still attached to its interface (a detach
// from outside, or the interface's deletion, ends that) and whether the
// dispatcher running is the one this Root last read or committed (false:
// another process changed the chain since). Cheap enough to poll.
func (r *Root) Running() (attached, current bool, err error) {
	if r.link == nil || r.st == nil {
		return false, false, nil
	}
	info, err := r.link.Info()
	if err != nil {
		return false, false, fmt.Errorf("root link info: %w", err)
	}
	x := info.XDP()
	if x == nil || int(x.Ifindex) != r.ifindex {
		return false, false, nil
	}
	return true, uint32(info.Program) == r.st.DispatcherID, nil
}

// Interface returns the interface name and index.
func (r *Root) Interface() (string, int) { return r.ifname, r.ifindex }

// reload re-reads the pins before a change (see read). Call with the lock
// held.
func (r *Root) reload() error {
	r.firstChange, r.created = r.created, false
	return r.read(true)
}

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
	if other := r.pins.otherInstance(); other != nil {
		// Another instance's root: its state is not here, and nothing of
		// it is ours to finish, clean or report as damaged.
		l.Close()
		return r.pins.foreignError(r.ifname, other)
	}
	r.link = l
	running := uint32(info.Program)

	st, pending, err := r.pins.committedState(running)
	if errors.Is(err, ErrNewerState) {
		return err // cleaning up or rewriting is the newer release's business
	}
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
		return &DamagedError{Interface: r.ifname, NetNS: r.opts.NetNS, Reason: "its state is unreadable", Err: err}
	}
	r.st = st
	r.stats, err = ebpf.LoadPinnedMap(r.pins.stats(), nil)
	if err != nil {
		return &DamagedError{Interface: r.ifname, NetNS: r.opts.NetNS, Reason: fmt.Sprintf("its counters %s are unreadable", r.pins.stats()), Err: err}
	}
	if clean {
		r.cleanupLeftovers()
		if err := r.pins.markOwner(); err != nil {
			return err // a root made before owner pins: it gets one
		}
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
	os.Remove(r.pins.mapsDir()) // only when empty: no program has maps
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
	// First: whoever finds the pins of a half-made root knows whose it is.
	if err := r.pins.markOwner(); err != nil {
		return err
	}
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
	// The state first, then the link's pin: a process killed in between
	// leaves state without a pinned link, which the next one starts over
	// from (the link went with the process, and the root with it); the
	// other way round it would leave a root attached without state, damaged.
	st := r.newState(mode, mech, reason)
	st.DispatcherID, err = programID(prog)
	if err != nil {
		return err
	}
	if err := writeState(r.pins.stateFile(), st); err != nil {
		l.Close()
		r.link = nil
		return fmt.Errorf("writing state: %w", err)
	}
	if err := l.Pin(r.pins.link()); err != nil {
		l.Close()
		r.link = nil
		return fmt.Errorf("pinning root link: %w", err)
	}
	r.st = st
	return nil
}

// newState is the state of a new root of the interface, with an empty
// chain.
func (r *Root) newState(mode Mode, mech MechanismKind, reason string) *state {
	return &state{
		Interface:   r.ifname,
		Ifindex:     r.ifindex,
		NetNS:       r.opts.NetNS,
		NetNSInode:  r.ns.inode,
		Mode:        mode,
		Mechanism:   mech,
		Reason:      reason,
		Fallthrough: Pass,
		Programs:    []programState{},
	}
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
func (r *Root) Detach() error { return r.detach(false) }

// detach takes the lock and detaches; with adopt it first takes the link
// from its pin (DetachInterface's Root has read nothing).
func (r *Root) detach(adopt bool) error {
	lock, err := lockDir(r.pins.bpf, false)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w %q", ErrNotAttached, r.ifname) // detached meanwhile
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := r.checkPins(); err != nil {
		return err
	}
	if adopt {
		r.adoptLink()
	}
	if err := r.detachLocked(); err != nil {
		return err
	}
	// Remove the directories under the lock: a process waiting for it
	// then finds its directory gone and starts over (lockDir), instead of
	// pinning into a directory being removed.
	r.pins.removeEmptyDirs()
	lock.Unlock()
	pruneStale(r.opts, r.pins, true)
	return nil
}

// adoptLink takes the pinned root link, to detach it, when it is on the
// interface; a defunct link (or one on another interface) is left to be
// unpinned.
func (r *Root) adoptLink() {
	rl, err := link.LoadPinnedLink(r.pins.link(), nil)
	if err != nil {
		return
	}
	if info, err := rl.Info(); err == nil && info.XDP() != nil && int(info.XDP().Ifindex) == r.ifindex {
		r.link = rl
		return
	}
	rl.Close()
}

// DetachInterface removes whatever xdpchain pinned for an interface: the
// root (detached from the interface when its link is on it), every pin and
// all state, whatever their condition. Unlike Open and Detach it needs no
// readable state: it removes a damaged root (see ErrDamaged). It returns
// ErrNotAttached when there is nothing to remove.
func DetachInterface(ifname string, opts *Options) error {
	o := opts.withDefaults()
	if err := requirePrivileges(); err != nil {
		return err
	}
	ns, err := openNetNS(o.NetNS)
	if err != nil {
		return err
	}
	defer ns.Close()
	nl, err := ns.netlink()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	l, err := nl.LinkByName(ifname)
	nl.Close()
	if err != nil {
		return fmt.Errorf("interface %q: %w", ifname, err)
	}
	r := &Root{opts: o, ifname: ifname, ifindex: l.Attrs().Index, ns: ns}
	r.pins = newPinDir(o, ns.inode, r.ifindex)
	exists, err := r.pins.secure(o, false)
	if err != nil {
		return err
	}
	if entries, _ := os.ReadDir(r.pins.bpf); (!exists || len(entries) == 0) && !isRealDir(r.pins.state) {
		return fmt.Errorf("%w %q", ErrNotAttached, ifname)
	}
	// Another instance's root is that instance's to remove, unless the
	// caller names that instance's state directory.
	if other := r.pins.otherInstance(); other != nil && other.StateDir != instanceDir(o.StateDir) {
		return r.pins.foreignError(ifname, other)
	}
	return r.detach(true)
}

// detachLocked is Detach with the lock held.
func (r *Root) detachLocked() error {
	r.created, r.firstChange = false, false
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
	return nil
}

// settleCreated ends every Update's apply (with the lock held; it may
// release it) and returns its error. A root this Root attached stays once
// the first Update on it did not fail in its apply (an Update whose fn
// refuses changes nothing and keeps it); when that first apply fails and
// the root is still empty, it is detached again, so a failed first load
// leaves the interface as it was: no root, no pins (iproute2 would get
// EBUSY from an empty root).
func (r *Root) settleCreated(err error, lock *dirLock) error {
	first := r.firstChange
	r.firstChange = false
	if err == nil || !first || r.link == nil || r.st == nil || r.st.Generation != 0 || len(r.st.Programs) != 0 {
		return err
	}
	if derr := r.detachLocked(); derr != nil {
		return errors.Join(err, fmt.Errorf("removing the root attached for this change: %w", derr))
	}
	lock.Unlock()
	r.pins.removeEmptyDirs()
	return err
}
