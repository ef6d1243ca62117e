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
	// Mechanism, when not empty or auto, its mechanism.
	Fallthrough *dispatcher.Verdict
	Mechanism   dispatcher.MechanismKind
}

// Apply performs the sync on s for the actor. On error s is unchanged.
func (op Sync) Apply(s *dispatcher.Spec, a Actor) error {
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
			return fmt.Errorf("program %q: %w", p.Name, err)
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
			return fmt.Errorf("program %q: %w", p.Name, err)
		}
		next.Programs[i].Priority = prio
	}
	if op.Fallthrough != nil {
		next.Fallthrough = *op.Fallthrough
	}
	if op.Mechanism != "" && op.Mechanism != dispatcher.AutoMechanism {
		next.Mechanism = op.Mechanism
	}
	*s = next
	return nil
}
