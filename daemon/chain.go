package daemon

import (
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// What the daemon wants on one interface is a chain.Sync for the daemon's
// actor: the programs it owns (owners plugin:* and config:*), the
// interface's settings and the config's placements. Programs of other
// owners are not part of it; they are kept as they are. Every change the
// daemon makes to a chain (reconcile, drift repair, a plugin's replace
// request, the undo of a failed apply) is one chain.SyncOn.

// daemonActor is who the daemon edits chains as.
var daemonActor = chain.Actor{Daemon: true}

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

// merge returns cur with the daemon's programs replaced by plan.Owned, and
// the users' programs that had to make way: a name the config (or a
// plugin) owns is the daemon's, even when a user loaded a program of that
// name first. A name in plan.Owned that another managed owner uses is an
// error wrapping chain.ErrOwned. It is what applyPlan swaps in, computed without
// the kernel (xdpchain plan).
func merge(cur dispatcher.Spec, plan chain.Sync) (dispatcher.Spec, dispatcher.Chain, error) {
	next := cur
	evicted, err := plan.ApplyEvicting(&next, daemonActor)
	if err != nil {
		return cur, nil, err
	}
	return next, evicted, nil
}

// daemonOwned reports whether the daemon manages programs of this owner.
func daemonOwned(owner string) bool { return chain.Managed(owner) }

// applyPlan makes root's chain follow plan with one atomic swap, keeping
// every program of other owners. The result says whether anything changed,
// which users' programs made way, and how to undo it (restore).
func applyPlan(root *dispatcher.Root, plan chain.Sync) (*chain.Synced, error) {
	return chain.SyncOn(root, plan, daemonActor)
}

// restore undoes an applyPlan, keeping what other owners did since, and
// puts back the users' programs it made way for.
func restore(root *dispatcher.Root, s *chain.Synced) error {
	_, err := chain.SyncOn(root, s.Undo, daemonActor)
	return err
}

// logEvicted says which users' programs made way for the daemon's.
func (d *Daemon) logEvicted(ref string, s *chain.Synced) {
	if s == nil {
		return
	}
	for _, p := range s.Evicted {
		d.log.Warn("a user's program made way for the config's program of the same name: a name the config owns is the config's", "interface", ref, "program", p.Name, "owner", p.Owner)
	}
}
