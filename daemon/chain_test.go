package daemon

import (
	"errors"
	"reflect"
	"testing"

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
	next, err := merge(cur, chainPlan{
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

	// A name another owner uses is never taken over.
	for _, other := range []string{"u", "cli", "anon"} {
		_, err = merge(cur, chainPlan{Owned: dispatcher.Chain{{Name: other, Owner: "plugin:" + other}}})
		if !errors.Is(err, ErrOwned) {
			t.Errorf("merge over %q's program: %v, want ErrOwned", other, err)
		}
	}

	// An empty plan removes only the daemon's programs.
	next, err = merge(cur, chainPlan{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(next.Programs), []string{"u=user:1000", "cli=user:root", "anon="}; !reflect.DeepEqual(got, want) {
		t.Errorf("empty plan left %v, want %v", got, want)
	}
}
