package dispatcher

// Detaching a root: the link, every pin and all state of an interface.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

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
