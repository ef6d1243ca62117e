package chain

import (
	"fmt"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Sync makes the programs an actor owns in a chain be exactly Owned,
// keeping every other program as it is: the daemon's reconcile (the
// actor's programs are those MayChange lets it change; for the daemon,
// its plugins' and config's). A name in Owned that a program the actor
// may not change holds is refused with that reason: nobody's program is
// taken over. Placements (by name) give programs of Owned the priority
// that puts them next to their anchor in the resulting chain, in the order
// of Owned.
type Sync struct {
	Owned      dispatcher.Chain
	Placements map[string]Placement
	// Fallthrough, when set, is the chain's fall-through verdict;
	// Mechanism its mechanism (auto: the one it runs).
	Fallthrough *dispatcher.Verdict
	Mechanism   dispatcher.Mechanism
	// Restore are programs of other owners put back when no program of
	// the result holds their name: the users' programs an undone sync
	// had evicted.
	Restore dispatcher.Chain
}

// Apply performs the sync on s for the actor. On error s is unchanged.
func (op Sync) Apply(s *dispatcher.Spec, a Actor) error {
	_, err := op.ApplyEvicting(s, a)
	return err
}

// ApplyEvicting is Apply, except that for the daemon a name in Owned that
// a user's program holds is taken back: a user can never block the config
// (a name loaded first, then added to the config). That program leaves the
// chain, and is returned so that the caller can say so. Names other
// managed owners hold are refused as by Apply.
func (op Sync) ApplyEvicting(s *dispatcher.Spec, a Actor) (evicted dispatcher.Chain, _ error) {
	if op.Fallthrough != nil {
		if err := dispatcher.CheckFallthrough(*op.Fallthrough); err != nil {
			return nil, err
		}
	}
	next := *s
	next.Programs = dispatcher.Chain{}
	want := make(map[string]bool, len(op.Owned))
	for _, p := range op.Owned {
		want[p.Name] = true
	}
	for _, p := range s.Programs {
		err := MayChange(a, p.Owner, false)
		if err == nil {
			continue // the actor's: Owned says what stays
		}
		if want[p.Name] {
			if o, perr := ParseOwner(p.Owner); a.Daemon && perr == nil && o.Kind == OwnerUser {
				evicted = append(evicted, p)
				continue
			}
			return nil, fmt.Errorf("program %q: %w", p.Name, err)
		}
		next.Programs = append(next.Programs, p)
	}
	next.Programs = append(next.Programs, op.Owned...)
	for _, p := range op.Owned {
		pl, ok := op.Placements[p.Name]
		if !ok {
			continue
		}
		i := next.Programs.Index(p.Name)
		others := append(append(dispatcher.Chain{}, next.Programs[:i]...), next.Programs[i+1:]...)
		prio, err := pl.Priority(others, p.Name)
		if err != nil {
			return nil, fmt.Errorf("program %q: %w", p.Name, err)
		}
		next.Programs[i].Priority = prio
	}
	for _, p := range op.Restore {
		if next.Programs.Index(p.Name) < 0 {
			next.Programs = append(next.Programs, p)
		}
	}
	if op.Fallthrough != nil {
		next.Fallthrough = *op.Fallthrough
	}
	if op.Mechanism != dispatcher.AutoMechanism {
		next.Mechanism = op.Mechanism
	}
	*s = next
	return evicted, nil
}
