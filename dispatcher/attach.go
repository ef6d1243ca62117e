package dispatcher

// Creating a root: attaching a new, empty dispatcher by a pinned bpf_link,
// and detaching it again when the first change fails.

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

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
	mech, reason := ResolveMechanism(r.opts.Mechanism, AutoMechanism)
	if _, err := newMechanism(mech); err != nil {
		return err
	}
	if mech == Freplace && r.opts.Mechanism == Freplace {
		if err := probeFreplace(); err != nil {
			return err
		}
	}
	r.stats, err = newStatsMap(minCounterRows)
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
	st := newState(r.identity(mode), mech, reason, Pass)
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

// identity is the identity of the root of r's interface, attached in mode.
func (r *Root) identity(mode Mode) rootIdentity {
	return rootIdentity{Interface: r.ifname, Ifindex: r.ifindex, NetNS: r.opts.NetNS, NetNSInode: r.ns.inode, Mode: mode}
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
			return "", nil, fmt.Errorf("%w: attaching to %q: %w", ErrForeignProgram, r.ifname, err)
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	return "", nil, fmt.Errorf("attaching root to %q: %w", r.ifname, errors.Join(errs...))
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
