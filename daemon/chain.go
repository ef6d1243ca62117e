package daemon

import (
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// chainPlan is what the daemon wants on one interface: the programs it owns
// and the interface's settings. Programs of other owners are not part of it;
// they are kept as they are.
type chainPlan struct {
	// Owned are the daemon's programs (owners plugin:* and config:*).
	Owned dispatcher.Chain
	// Fallthrough, when set, is the interface's fall-through verdict.
	Fallthrough *dispatcher.Verdict
	// Mechanism, when not empty or auto, is the interface's mechanism.
	Mechanism dispatcher.MechanismKind
	// Placements are the before/after of the daemon's programs, by name:
	// each gets the priority that puts it next to its anchor in the merged
	// chain (resolved in the order of Owned).
	Placements map[string]chain.Placement
}

// placementsOf returns the placements the config asks for, by program name.
func placementsOf(cfg *config.Config) map[string]chain.Placement {
	out := map[string]chain.Placement{}
	for _, p := range cfg.Programs {
		if !p.Placement.IsZero() {
			out[p.Name] = p.Placement
		}
	}
	for _, p := range cfg.Plugins {
		if !p.Placement.IsZero() {
			out[p.Name] = p.Placement
		}
	}
	return out
}

// undo restores what a plan changed.
type undo struct {
	owned       dispatcher.Chain
	fallThrough dispatcher.Verdict
	mechanism   dispatcher.MechanismKind
	// evicted are users' programs the plan took a name back from.
	evicted dispatcher.Chain
}

// merge returns cur with the daemon's programs replaced by plan.Owned (the
// chain.Sync of the daemon's actor), and the users' programs that had to
// make way: a name the config (or a plugin) owns is the daemon's, even when
// a user loaded a program of that name first. A name in plan.Owned that
// another managed owner uses is an error wrapping ErrOwned.
func merge(cur dispatcher.Spec, plan chainPlan) (dispatcher.Spec, dispatcher.Chain, error) {
	next := cur
	op := chain.Sync{Owned: plan.Owned, Placements: plan.Placements, Fallthrough: plan.Fallthrough, Mechanism: plan.Mechanism}
	evicted, err := op.ApplyEvicting(&next, chain.Actor{Daemon: true})
	if err != nil {
		return cur, nil, err
	}
	return next, evicted, nil
}

// daemonOwned reports whether the daemon manages programs of this owner.
func daemonOwned(owner string) bool { return chain.Managed(owner) }

// ownedOf returns the daemon's programs of a chain.
func ownedOf(c dispatcher.Chain) dispatcher.Chain {
	var out dispatcher.Chain
	for _, p := range c {
		if chain.Managed(p.Owner) {
			out = append(out, p)
		}
	}
	return out
}

// applyPlan makes root's chain follow plan with one atomic swap, keeping
// every program of other owners. It reports whether anything changed and
// what to restore to undo it.
func applyPlan(root *dispatcher.Root, plan chainPlan) (u undo, changed bool, err error) {
	changed, err = root.Update(func(s *dispatcher.Spec) error {
		u = undo{owned: ownedOf(s.Programs), fallThrough: s.Fallthrough, mechanism: s.Mechanism}
		next, evicted, err := merge(*s, plan)
		if err != nil {
			return err
		}
		u.evicted = evicted
		*s = next
		return nil
	})
	return u, changed, err
}

// restore undoes an applyPlan, keeping what other owners did since, and
// puts back the users' programs it made way for.
func restore(root *dispatcher.Root, u undo) error {
	ft := u.fallThrough
	_, err := root.Update(func(s *dispatcher.Spec) error {
		next, _, err := merge(*s, chainPlan{Owned: u.owned, Fallthrough: &ft, Mechanism: u.mechanism})
		if err != nil {
			return err
		}
		for _, p := range u.evicted {
			if next.Programs.Index(p.Name) < 0 {
				next.Programs = append(next.Programs, p)
			}
		}
		*s = next
		return nil
	})
	return err
}

// logEvicted says which users' programs made way for the daemon's.
func (d *Daemon) logEvicted(ref string, evicted dispatcher.Chain) {
	for _, p := range evicted {
		d.log.Warn("a user's program made way for the config's program of the same name: a name the config owns is the config's", "interface", ref, "program", p.Name, "owner", p.Owner)
	}
}
