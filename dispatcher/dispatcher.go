package dispatcher

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Spec is the desired state of one interface: everything a dispatcher
// generation is built from.
type Spec struct {
	// Programs in any order; Apply sorts them (ascending priority, ties by
	// name).
	Programs Chain
	// Fallthrough is returned when the last program continues the chain, and
	// by an empty chain. Its zero value means the default, XDP_PASS:
	// aborted is never a fall-through verdict (CheckFallthrough; use Drop
	// for default-deny).
	Fallthrough Verdict
	// Mechanism fills the slots; empty keeps the root's current one.
	Mechanism Mechanism
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
	// dirs: the directories the operation under way checked (checkPins).
	dirs *dirChecks
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
