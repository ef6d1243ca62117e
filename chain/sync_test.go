package chain

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/xdp"
)

func TestSync(t *testing.T) {
	cur := dispatcher.Spec{Revision: 2, Programs: dispatcher.Chain{
		prog("guard", 10, "user:0"), prog("old", 20, "config:old"), prog("p", 30, "plugin:p"), prog("anon", 40, ""),
	}}
	drop := dispatcher.Drop
	s := cur
	err := Sync{
		Owned:       dispatcher.Chain{prog("p", 35, "plugin:p"), prog("new", 99, "config:new")},
		Placements:  map[string]Placement{"new": {Before: "guard"}},
		Fallthrough: &drop, Mechanism: dispatcher.AutoMechanism,
	}.Apply(&s, Actor{Daemon: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order(s.Programs), "[new:9 guard:10 p:35 anon:40]"; got != want {
		t.Errorf("synced chain %s, want %s", got, want)
	}
	if s.Fallthrough != dispatcher.Drop || s.Mechanism != "" || order(cur.Programs) != "[guard:10 old:20 p:30 anon:40]" {
		t.Errorf("fall-through %s, mechanism %q; input %s", s.Fallthrough, s.Mechanism, order(cur.Programs))
	}
	// Aborted is no fall-through verdict: refused by the one rule
	// (dispatcher.CheckFallthrough), as a load and config.toml refuse it,
	// and the chain stays.
	{
		s := cur
		aborted := dispatcher.Aborted
		err := Sync{Owned: dispatcher.Chain{prog("p", 35, "plugin:p")}, Fallthrough: &aborted}.Apply(&s, Actor{Daemon: true})
		if !errors.Is(err, dispatcher.ErrInvalid) || !errors.Is(err, xdp.ErrFallthrough) || order(s.Programs) != order(cur.Programs) || s.Fallthrough != cur.Fallthrough {
			t.Errorf("sync to an aborted fall-through: %v, chain %s", err, order(s.Programs))
		}
	}
	// A name of an unknown owner's program is never taken over.
	{
		s := cur
		err := Sync{Owned: dispatcher.Chain{prog("anon", 1, "config:anon")}}.Apply(&s, Actor{Daemon: true})
		if !errors.Is(err, ErrOwned) || order(s.Programs) != order(cur.Programs) {
			t.Errorf("sync over anon: %v, chain %s", err, order(s.Programs))
		}
	}
	// A name a user's program holds, the daemon takes back: the user's
	// program makes way and is reported.
	{
		s := cur
		evicted, err := Sync{Owned: dispatcher.Chain{prog("guard", 1, "config:guard")}}.ApplyEvicting(&s, Actor{Daemon: true})
		if err != nil || len(evicted) != 1 || evicted[0].Owner != "user:0" || order(s.Programs) != "[guard:1 anon:40]" {
			t.Errorf("sync over the user's guard: %v, evicted %v, chain %s", err, evicted, order(s.Programs))
		}
		// Undone (the config's guard gone, the user's restored), the
		// chain is as it was; a restored name taken meanwhile stays taken.
		if err := (Sync{Owned: ownedBy(cur.Programs, "config:old", "plugin:p"), Restore: evicted}).Apply(&s, Actor{Daemon: true}); err != nil || order(s.Programs) != order(cur.Programs) {
			t.Errorf("undo: %v, chain %s, want %s", err, order(s.Programs), order(cur.Programs))
		}
		s = cur
		s.Programs = dispatcher.Chain{prog("guard", 5, "user:7")}
		if err := (Sync{Restore: evicted}).Apply(&s, Actor{Daemon: true}); err != nil || order(s.Programs) != "[guard:5]" || s.Programs[0].Owner != "user:7" {
			t.Errorf("restore over a taken name: %v, chain %v", err, s.Programs)
		}
	}
	// A user's sync changes that user's programs only.
	s = cur
	if err := (Sync{}).Apply(&s, Actor{UID: 0}); err != nil || order(s.Programs) != "[old:20 p:30 anon:40]" {
		t.Errorf("root's empty sync: %v, chain %s", err, order(s.Programs))
	}
}

func ownedBy(c dispatcher.Chain, owners ...string) dispatcher.Chain {
	var out dispatcher.Chain
	for _, p := range c {
		for _, o := range owners {
			if p.Owner == o {
				out = append(out, p)
			}
		}
	}
	return out
}
