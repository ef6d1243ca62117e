package chain

import (
	"fmt"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Load puts a program into an interface's chain.
type Load struct {
	Interface Interface
	// Program is the chain entry, overrides applied and Owner set.
	Program dispatcher.Program
	// Replace allows a program of the same name to be replaced (if the
	// actor may change it, see MayChange); without it the name must be
	// free (ErrExists).
	Replace bool
	// Force lets root replace another owner's program.
	Force bool
	// Placement, when set, chooses Program.Priority so that the program
	// runs immediately before or after another one.
	Placement Placement
	// ExpectedRevision, when set, makes the edit fail with ErrStale unless
	// the chain's revision is the one given.
	ExpectedRevision *uint64
	// Mechanism is the interface's slot mechanism from now on (auto:
	// the one it runs; a root the load creates gets it too, see
	// OpenForLoad); Fallthrough, when set, its fall-through verdict.
	Mechanism   dispatcher.Mechanism
	Fallthrough *dispatcher.Verdict
}

// Apply performs the load on s for the actor. On error s is unchanged.
func (l Load) Apply(s *dispatcher.Spec, a Actor) error {
	if err := checkRevision(l.Interface, s, l.ExpectedRevision); err != nil {
		return err
	}
	p := l.Program
	if l.Fallthrough != nil {
		if err := dispatcher.CheckFallthrough(*l.Fallthrough); err != nil {
			return err
		}
	}
	rest := s.Programs
	i := s.Programs.Index(p.Name)
	if i >= 0 {
		if !l.Replace {
			return &dispatcher.ProgramError{Program: p.Name, Err: fmt.Errorf("%w on %s", ErrExists, l.Interface)}
		}
		if err := MayChange(a, s.Programs[i].Owner, l.Force); err != nil {
			return &dispatcher.ProgramError{Program: p.Name, Err: fmt.Errorf("on %s: %w", l.Interface, err)}
		}
		rest = append(append(dispatcher.Chain{}, s.Programs[:i]...), s.Programs[i+1:]...)
	}
	if !l.Placement.IsZero() {
		prio, err := l.Placement.Priority(rest, p.Name)
		if err != nil {
			return &dispatcher.ProgramError{Program: p.Name, Err: fmt.Errorf("on %s: %w", l.Interface, err)}
		}
		p.Priority = prio
	}
	next := append(append(dispatcher.Chain{}, rest...), p)
	s.Programs = next
	if l.Mechanism != dispatcher.AutoMechanism {
		s.Mechanism = l.Mechanism
	}
	if l.Fallthrough != nil {
		s.Fallthrough = *l.Fallthrough
	}
	return nil
}

// Unload removes programs from an interface's chain; the root stays.
type Unload struct {
	Interface Interface
	// Names to remove (each must be in the chain: dispatcher.ErrNotFound),
	// or All: every program the actor may remove.
	Names []string
	All   bool
	// Force lets root remove other owners' programs.
	Force            bool
	ExpectedRevision *uint64
}

// Validate checks the request's shape: names or all (ErrNothingNamed, an
// ErrInvalid, when neither or both).
func (u Unload) Validate() error {
	if u.All == (len(u.Names) > 0) {
		return fmt.Errorf("%w: %w", dispatcher.ErrInvalid, ErrNothingNamed)
	}
	return nil
}

// Apply performs the unload on s for the actor and returns the names
// removed (none: s is unchanged). On error s is unchanged.
func (u Unload) Apply(s *dispatcher.Spec, a Actor) ([]string, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := checkRevision(u.Interface, s, u.ExpectedRevision); err != nil {
		return nil, err
	}
	removed := []string{}
	var keep dispatcher.Chain
	if u.All {
		for _, p := range s.Programs {
			if MayChange(a, p.Owner, u.Force) == nil {
				removed = append(removed, p.Name)
				continue
			}
			keep = append(keep, p)
		}
	} else {
		keep = append(dispatcher.Chain{}, s.Programs...)
		for _, name := range u.Names {
			i := keep.Index(name)
			if i < 0 {
				return nil, fmt.Errorf("%w: %q on %s", dispatcher.ErrNotFound, name, u.Interface)
			}
			if err := MayChange(a, keep[i].Owner, u.Force); err != nil {
				return nil, fmt.Errorf("program %q on %s: %w", name, u.Interface, err)
			}
			keep = append(keep[:i:i], keep[i+1:]...)
			removed = append(removed, name)
		}
	}
	if len(removed) > 0 {
		s.Programs = keep
	}
	return removed, nil
}

// Detach removes an interface's root and every pin.
type Detach struct {
	Interface        Interface
	ExpectedRevision *uint64
}

// CheckRevision fails with ErrStale unless the chain's revision is the
// expected one (nil: any revision).
func CheckRevision(itf Interface, revision uint64, expected *uint64) error {
	if expected != nil && *expected != revision {
		return fmt.Errorf("%w: %s is at revision %d, not the expected %d; nothing changed", ErrStale, itf, revision, *expected)
	}
	return nil
}

func checkRevision(itf Interface, s *dispatcher.Spec, expected *uint64) error {
	return CheckRevision(itf, s.Revision, expected)
}
