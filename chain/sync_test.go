package chain

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
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
	// Names of programs the actor may not change are never taken over.
	for _, name := range []string{"guard", "anon"} {
		s := cur
		err := Sync{Owned: dispatcher.Chain{prog(name, 1, "config:"+name)}}.Apply(&s, Actor{Daemon: true})
		if !errors.Is(err, ErrOwned) || order(s.Programs) != order(cur.Programs) {
			t.Errorf("sync over %s: %v, chain %s", name, err, order(s.Programs))
		}
	}
	// A user's sync changes that user's programs only.
	s = cur
	if err := (Sync{}).Apply(&s, Actor{UID: 0}); err != nil || order(s.Programs) != "[old:20 p:30 anon:40]" {
		t.Errorf("root's empty sync: %v, chain %s", err, order(s.Programs))
	}
}
