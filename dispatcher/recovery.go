package dispatcher

// Reading a root's pins and state under its lock, and recovering what a
// crashed apply left (pins.md).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

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
	st.extensionsLost = !r.pins.extensionsIntact(st)
	r.st = st
	r.stats, err = ebpf.LoadPinnedMap(r.pins.counters(st.Counters), nil)
	if err != nil {
		return &DamagedError{Interface: r.ifname, NetNS: r.opts.NetNS, Reason: fmt.Sprintf("its counters %s are unreadable", r.pins.counters(st.Counters)), Err: err}
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
// state directories are safe to use (see secureDir). It starts the
// operation's dirChecks (r.dirs), which the change's slots use.
func (r *Root) checkPins() error {
	r.dirs = newDirChecks()
	_, err := r.pins.secureWith(r.dirs, r.opts, false)
	return err
}

// cleanupLeftovers removes pins and objects no committed program uses.
func (r *Root) cleanupLeftovers() {
	keep := map[string]bool{}
	for _, p := range r.st.Programs {
		keep[p.Name] = true
	}
	removeUnlisted(r.pins.mapsDir(), keep)
	r.pins.removeUnusedCounters(r.st)
	os.Remove(r.pins.mapsDir()) // only when empty: no program has maps
	if m, err := newMechanism(r.st.Mechanism); err == nil {
		m.cleanup(r.pins, r.st)
	}
	r.pins.gcObjects(r.st)
	r.pins.cleanupAlone(r.st)
}
