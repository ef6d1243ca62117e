package chain

import (
	"errors"
	"fmt"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func prog(name string, prio int, owner string) dispatcher.Program {
	return dispatcher.Program{Name: name, Priority: prio, Owner: owner}
}

func order(c dispatcher.Chain) string {
	var s []string
	for _, p := range c.Sorted() {
		s = append(s, fmt.Sprintf("%s:%d", p.Name, p.Priority))
	}
	return fmt.Sprint(s)
}

func TestPlacement(t *testing.T) {
	c := dispatcher.Chain{prog("a", 10, ""), prog("m", 20, ""), prog("z", 20, ""), prog("q", 21, "")}
	for _, tc := range []struct {
		pl   Placement
		name string
		want int
		err  error
	}{
		{Placement{Before: "a"}, "x", 9, nil},
		{Placement{After: "q"}, "x", 21, nil},                   // x sorts after q at 21
		{Placement{After: "q"}, "b", 22, nil},                   // b would sort before q at 21
		{Placement{Before: "m"}, "b", 20, nil},                  // b < m: the anchor's own priority
		{Placement{Before: "m"}, "x", 19, nil},                  // x > m: below it
		{Placement{After: "m"}, "x", 20, nil},                   // between m:20 and z:20
		{Placement{After: "m"}, "zz", 0, dispatcher.ErrInvalid}, // no room between m:20 and z:20
		{Placement{Before: "nope"}, "x", 0, dispatcher.ErrNotFound},
		{Placement{Before: "a", After: "m"}, "x", 0, dispatcher.ErrInvalid},
	} {
		got, err := tc.pl.Priority(c, tc.name)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%+v %s: %v, want %v", tc.pl, tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v %s: %d, %v; want %d", tc.pl, tc.name, got, err, tc.want)
			continue
		}
		// The program really lands next to its anchor.
		next := append(append(dispatcher.Chain{}, c...), prog(tc.name, got, "")).Sorted()
		i, j := next.Index(tc.name), next.Index(tc.pl.Before+tc.pl.After)
		if (tc.pl.Before != "" && i != j-1) || (tc.pl.After != "" && i != j+1) {
			t.Errorf("%+v %s: order %s", tc.pl, tc.name, order(next))
		}
	}
}

// TestPlacementRange: a placement stays in the dispatcher's priority range.
func TestPlacementRange(t *testing.T) {
	c := dispatcher.Chain{prog("m", dispatcher.MinPriority, ""), prog("n", dispatcher.MaxPriority, "")}
	if p, err := (Placement{Before: "m"}).Priority(c, "a"); err != nil || p != dispatcher.MinPriority {
		t.Errorf("a before m at the lowest priority: %d, %v", p, err)
	}
	if _, err := (Placement{Before: "m"}).Priority(c, "z"); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("z before m at the lowest priority: %v, want ErrInvalid", err)
	}
	if _, err := (Placement{After: "n"}).Priority(c, "a"); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("a after n at the highest priority: %v, want ErrInvalid", err)
	}
}

func TestLoadApply(t *testing.T) {
	itf := NewInterface("blue", "eth0")
	root := Actor{}
	spec := func() *dispatcher.Spec {
		return &dispatcher.Spec{Revision: 3, Programs: dispatcher.Chain{prog("a", 10, "user:0"), prog("b", 20, "user:1000"), prog("c", 30, "config:c")}}
	}
	rev := func(n uint64) *uint64 { return &n }
	for _, tc := range []struct {
		name string
		load Load
		err  error
		want string
	}{
		{"new", Load{Program: prog("n", 5, "user:0")}, nil, "[n:5 a:10 b:20 c:30]"},
		{"exists", Load{Program: prog("a", 5, "user:0")}, ErrExists, ""},
		{"replace own", Load{Program: prog("a", 40, "user:0"), Replace: true}, nil, "[b:20 c:30 a:40]"},
		{"replace another's", Load{Program: prog("b", 40, "user:0"), Replace: true}, ErrOwned, ""},
		{"force another's", Load{Program: prog("b", 40, "user:0"), Replace: true, Force: true}, nil, "[a:10 c:30 b:40]"},
		{"replace the config's", Load{Program: prog("c", 40, "user:0"), Replace: true, Force: true}, ErrOwned, ""},
		{"after a", Load{Program: prog("n", 99, "user:0"), Placement: Placement{After: "a"}}, nil, "[a:10 n:10 b:20 c:30]"},
		{"replace, before a", Load{Program: prog("b", 99, "user:0"), Replace: true, Force: true, Placement: Placement{Before: "a"}}, nil, "[b:9 a:10 c:30]"},
		{"revision", Load{Program: prog("n", 5, "user:0"), ExpectedRevision: rev(3)}, nil, "[n:5 a:10 b:20 c:30]"},
		{"stale", Load{Program: prog("n", 5, "user:0"), ExpectedRevision: rev(2)}, ErrStale, ""},
		{"aborted fall-through", Load{Program: prog("n", 5, "user:0"), Fallthrough: new(dispatcher.Verdict)}, dispatcher.ErrInvalid, ""},
	} {
		tc.load.Interface = itf
		s := spec()
		before := order(s.Programs)
		err := tc.load.Apply(s, root)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			if order(s.Programs) != before {
				t.Errorf("%s: failed, but the spec changed to %s", tc.name, order(s.Programs))
			}
			continue
		}
		if err != nil || order(s.Programs) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, order(s.Programs), err, tc.want)
		}
	}
	s := spec()
	err := Load{Interface: itf, Program: prog("n", 5, ""), ExpectedRevision: rev(2)}.Apply(s, root)
	if want := "chain is stale: blue/eth0 is at revision 3, not the expected 2; nothing changed"; err == nil || err.Error() != want {
		t.Errorf("stale: %v, want %q", err, want)
	}
}

func TestUnloadApply(t *testing.T) {
	itf := NewInterface("", "eth0")
	spec := func() *dispatcher.Spec {
		return &dispatcher.Spec{Revision: 1, Programs: dispatcher.Chain{prog("a", 10, "user:0"), prog("b", 20, "user:1000"), prog("c", 30, "config:c")}}
	}
	rev := uint64(0)
	for _, tc := range []struct {
		name    string
		u       Unload
		a       Actor
		err     error
		removed string
	}{
		{"all of root's", Unload{All: true}, Actor{}, nil, "[a]"},
		{"all, forced", Unload{All: true, Force: true}, Actor{}, nil, "[a b]"},
		{"a user's all", Unload{All: true}, Actor{UID: 1000}, nil, "[b]"},
		{"by name", Unload{Names: []string{"b"}, Force: true}, Actor{}, nil, "[b]"},
		{"another's by name", Unload{Names: []string{"a"}}, Actor{UID: 1000}, ErrPermission, ""},
		{"missing", Unload{Names: []string{"a", "x"}}, Actor{}, dispatcher.ErrNotFound, ""},
		{"neither", Unload{}, Actor{}, dispatcher.ErrInvalid, ""},
		{"stale", Unload{All: true, ExpectedRevision: &rev}, Actor{}, ErrStale, ""},
		{"daemon", Unload{All: true}, Actor{Daemon: true}, nil, "[c]"},
	} {
		tc.u.Interface = itf
		s := spec()
		removed, err := tc.u.Apply(s, tc.a)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || len(s.Programs) != 3 {
				t.Errorf("%s: %v (chain %s), want %v", tc.name, err, order(s.Programs), tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(removed) != tc.removed || len(s.Programs) != 3-len(removed) {
			t.Errorf("%s: removed %v, %v; chain %s", tc.name, removed, err, order(s.Programs))
		}
	}
}

// TestMechanismEdit checks the one meaning of auto in the edits: a load or
// sync without a mechanism (auto) keeps the chain's, one with a mechanism
// sets it.
func TestMechanismEdit(t *testing.T) {
	a := Actor{UID: 0}
	itf := NewInterface("", "eth0")
	for _, tc := range []struct {
		asked, want dispatcher.Mechanism
	}{
		{dispatcher.AutoMechanism, dispatcher.Linked},
		{dispatcher.Inline, dispatcher.Inline},
		{dispatcher.Freplace, dispatcher.Freplace},
	} {
		s := dispatcher.Spec{Mechanism: dispatcher.Linked}
		if err := (Load{Interface: itf, Program: prog("p", 0, "user:0"), Mechanism: tc.asked}).Apply(&s, a); err != nil {
			t.Fatal(err)
		}
		if s.Mechanism != tc.want {
			t.Errorf("load asking %s on a linked chain: %s, want %s", tc.asked, s.Mechanism, tc.want)
		}
		s = dispatcher.Spec{Mechanism: dispatcher.Linked}
		if err := (Sync{Mechanism: tc.asked}).Apply(&s, a); err != nil {
			t.Fatal(err)
		}
		if s.Mechanism != tc.want {
			t.Errorf("sync asking %s on a linked chain: %s, want %s", tc.asked, s.Mechanism, tc.want)
		}
	}
}
