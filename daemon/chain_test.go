package daemon

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

func names(c dispatcher.Chain) []string {
	out := []string{}
	for _, p := range c.Sorted() {
		out = append(out, p.Name+"="+p.Owner)
	}
	return out
}

func TestMerge(t *testing.T) {
	cur := dispatcher.Spec{
		Fallthrough: dispatcher.Pass,
		Programs: dispatcher.Chain{
			{Name: "a", Priority: 1, Owner: "plugin:a"},
			{Name: "b", Priority: 2, Owner: "config:b"},
			{Name: "u", Priority: 3, Owner: "user:1000"},
			{Name: "cli", Priority: 4, Owner: "user:root"},
			{Name: "anon", Priority: 5},
		},
	}
	drop := dispatcher.Drop
	next, _, err := merge(cur, chain.Sync{
		Owned:       dispatcher.Chain{{Name: "b", Priority: 9, Owner: "config:b"}, {Name: "c", Priority: 0, Owner: "plugin:c"}},
		Fallthrough: &drop,
		Mechanism:   dispatcher.AutoMechanism,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's a is gone, b replaced, c added; everybody else's stay.
	want := []string{"c=plugin:c", "u=user:1000", "cli=user:root", "anon=", "b=config:b"}
	if got := names(next.Programs); !reflect.DeepEqual(got, want) {
		t.Errorf("merged chain %v, want %v", got, want)
	}
	if next.Fallthrough != dispatcher.Drop || next.Mechanism != "" {
		t.Errorf("fallthrough %v mechanism %q, want drop and unchanged", next.Fallthrough, next.Mechanism)
	}
	if got := names(cur.Programs); len(got) != 5 {
		t.Errorf("merge changed its input: %v", got)
	}

	// A name a user's program holds is the config's: the user's program
	// makes way (and is reported); any other owner's is never taken over.
	for _, user := range []string{"u", "cli"} {
		next, evicted, err := merge(cur, chain.Sync{Owned: dispatcher.Chain{{Name: user, Owner: "plugin:" + user}}})
		if err != nil || len(evicted) != 1 || evicted[0].Name != user || next.Programs[next.Programs.Index(user)].Owner != "plugin:"+user {
			t.Errorf("merge over user program %q: %v, evicted %v", user, err, names(evicted))
		}
	}
	if _, _, err = merge(cur, chain.Sync{Owned: dispatcher.Chain{{Name: "anon", Owner: "plugin:anon"}}}); !errors.Is(err, chain.ErrOwned) {
		t.Errorf("merge over an unknown owner's program: %v, want chain.ErrOwned", err)
	}

	// An empty plan removes only the daemon's programs.
	next, _, err = merge(cur, chain.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(next.Programs), []string{"u=user:1000", "cli=user:root", "anon="}; !reflect.DeepEqual(got, want) {
		t.Errorf("empty plan left %v, want %v", got, want)
	}
}

// TestMergePlacement places the daemon's programs next to others' with
// before/after: the priority is chosen in the merged chain, and an anchor
// that is not there refuses the plan.
func TestMergePlacement(t *testing.T) {
	cur := dispatcher.Spec{Programs: dispatcher.Chain{
		{Name: "guard", Priority: 10, Owner: "user:0"},
		{Name: "lb", Priority: 40, Owner: "user:0"},
	}}
	next, _, err := merge(cur, chain.Sync{
		Owned: dispatcher.Chain{
			{Name: "count", Priority: 99, Owner: "config:count"},
			{Name: "filter", Priority: 99, Owner: "plugin:filter"},
		},
		Placements: map[string]chain.Placement{"count": {After: "guard"}, "filter": {Before: "guard"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range next.Programs.Sorted() {
		got = append(got, fmt.Sprintf("%s:%d", p.Name, p.Priority))
	}
	if want := "[filter:10 guard:10 count:11 lb:40]"; fmt.Sprint(got) != want {
		t.Errorf("placed chain %v, want %s", got, want)
	}
	_, _, err = merge(cur, chain.Sync{
		Owned:      dispatcher.Chain{{Name: "count", Owner: "config:count"}},
		Placements: map[string]chain.Placement{"count": {Before: "nosuch"}},
	})
	if !errors.Is(err, dispatcher.ErrNotFound) || !strings.Contains(err.Error(), `"count"`) {
		t.Errorf("placement before a missing program: %v", err)
	}
}
