package chain

import (
	"errors"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// OpenForLoad opens the root of op's interface with opts, attaching one
// with op's mechanism when there is none. Before it attaches, it runs op on
// an empty chain, so that a load refused for its own reasons (a stale
// revision, a placement anchor that does not exist) leaves the interface
// without a root, as it was.
func OpenForLoad(op Load, a Actor, opts *dispatcher.Options) (*dispatcher.Root, error) {
	r, err := dispatcher.Open(op.Interface.Name, opts)
	if !errors.Is(err, dispatcher.ErrNotAttached) {
		return r, err
	}
	if err := op.Apply(&dispatcher.Spec{}, a); err != nil {
		return nil, err
	}
	o := withMechanism(opts, op.Mechanism)
	return dispatcher.Attach(op.Interface.Name, o)
}

// withMechanism is opts for a root created with mechanism m.
func withMechanism(opts *dispatcher.Options, m dispatcher.Mechanism) *dispatcher.Options {
	var o dispatcher.Options
	if opts != nil {
		o = *opts
	}
	o.Mechanism = m
	return &o
}

// LoadOn performs op on root for the actor in one Root.Update and
// describes the program as it is in the chain after. authorize, when not
// nil, sees the program as the load placed it (its priority chosen) and
// returns it as it may be loaded, or an error that refuses the load.
func LoadOn(root *dispatcher.Root, op Load, a Actor, authorize func(dispatcher.Program) (dispatcher.Program, error)) (*Loaded, error) {
	changed, err := root.Update(func(s *dispatcher.Spec) error {
		next := *s
		if err := op.Apply(&next, a); err != nil {
			return err
		}
		if authorize != nil {
			i := next.Programs.Index(op.Program.Name)
			p, err := authorize(next.Programs[i])
			if err != nil {
				return err
			}
			next.Programs[i] = p
		}
		*s = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	st, err := root.Status()
	if err != nil {
		return nil, err
	}
	return NewLoaded(st, op.Program.Name, changed)
}

// UnloadOn performs op on root for the actor in one Root.Update.
func UnloadOn(root *dispatcher.Root, op Unload, a Actor) (*Unloaded, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	var removed []string
	_, err := root.Update(func(s *dispatcher.Spec) error {
		var err error
		removed, err = op.Apply(s, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	st, err := root.Status()
	if err != nil {
		return nil, err
	}
	return &Unloaded{Removed: removed, Revision: st.Revision}, nil
}

// DetachOn removes the root of op's interface and every pin, whatever the
// state's condition (a damaged root goes too). With an expected revision
// the root must be readable and at that revision.
func DetachOn(op Detach, opts *dispatcher.Options) error {
	if op.ExpectedRevision != nil {
		r, err := dispatcher.Open(op.Interface.Name, opts)
		if err != nil {
			return err
		}
		st, err := r.Status()
		r.Close()
		if err != nil {
			return err
		}
		if err := CheckRevision(op.Interface, st.Revision, op.ExpectedRevision); err != nil {
			return err
		}
	}
	return dispatcher.DetachInterface(op.Interface.Name, opts)
}

// Synced is what SyncOn did.
type Synced struct {
	// Changed: a new generation was swapped in.
	Changed bool
	// Evicted are the users' programs that made way for names the actor
	// owns (see Sync.ApplyEvicting).
	Evicted dispatcher.Chain
	// Undo puts the actor's programs and the chain's settings back as
	// they were before, the evicted programs too, keeping what other
	// owners did since.
	Undo Sync
}

// SyncOn performs op on root for the actor in one Root.Update: the
// daemon's reconcile, its plugins' replace requests and its undo of a
// failed apply.
func SyncOn(root *dispatcher.Root, op Sync, a Actor) (*Synced, error) {
	res := &Synced{}
	changed, err := root.Update(func(s *dispatcher.Spec) error {
		ft := s.Fallthrough
		undo := Sync{Fallthrough: &ft, Mechanism: s.Mechanism}
		for _, p := range s.Programs {
			if MayChange(a, p.Owner, false) == nil {
				undo.Owned = append(undo.Owned, p)
			}
		}
		next := *s
		evicted, err := op.ApplyEvicting(&next, a)
		if err != nil {
			return err
		}
		undo.Restore = evicted
		res.Evicted, res.Undo = evicted, undo
		*s = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Changed = changed
	return res, nil
}
