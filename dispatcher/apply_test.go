package dispatcher

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func named(names ...string) Chain {
	var c Chain
	for _, n := range names {
		c = append(c, Program{Name: n})
	}
	return c
}

func running(counters map[string]uint32) []programState {
	var out []programState
	for n, c := range counters {
		out = append(out, programState{programRecord: programRecord{Name: n}, Counter: c})
	}
	return out
}

func TestAssignCounters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chain   Chain
		running map[string]uint32
		want    map[string]uint32
	}{
		{"first chain", named("a", "b", "c"), nil, map[string]uint32{"a": 1, "b": 2, "c": 3}},
		// Every row the running generation counts into is taken, a kept
		// program's too: each generation counts into rows of its own
		// (stats.go, countingOnce).
		{"kept, in slot order", named("c", "b", "a"), map[string]uint32{"a": 1, "b": 2, "c": 3}, map[string]uint32{"c": 4, "b": 5, "a": 6}},
		{"lowest free first", named("x", "y", "a"), map[string]uint32{"a": 2, "gone": 4}, map[string]uint32{"x": 1, "y": 3, "a": 5}},
		{"running high rows", named("a", "b"), map[string]uint32{"a": 9}, map[string]uint32{"a": 1, "b": 2}},
		{"empty chain", nil, map[string]uint32{"a": 1}, map[string]uint32{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := assignCounters(tc.chain, running(tc.running))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAssignCountersFull replaces a full chain of 64 by 64 new programs:
// the new ones need rows 65..128, which the counters map must hold.
func TestAssignCountersFull(t *testing.T) {
	old := map[string]uint32{}
	var chain Chain
	for i := range MaxPrograms {
		old[fmt.Sprintf("old%d", i)] = uint32(i + 1)
		chain = append(chain, Program{Name: fmt.Sprintf("new%d", i)})
	}
	got := assignCounters(chain, running(old))
	seen := map[uint32]string{}
	for name, c := range got {
		if c <= MaxPrograms || c > maxCounters {
			t.Errorf("%s: row %d, want one in %d..%d", name, c, MaxPrograms+1, maxCounters)
		}
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share row %d", name, other, c)
		}
		seen[c] = name
	}
	if len(got) != MaxPrograms {
		t.Errorf("%d programs got rows, want %d", len(got), MaxPrograms)
	}
}

func hashOf(obj []byte) string {
	sum := sha256.Sum256(obj)
	return hex.EncodeToString(sum[:])
}

func TestUnchanged(t *testing.T) {
	objA, objB := []byte("object a"), []byte("object b")
	progA := Program{Name: "a", Priority: 10, ProceedOn: NewVerdictSet(Pass), ProgramName: "fa", Frags: true, Owner: "me", Version: "1"}
	progB := Program{Name: "b", Priority: 20, ProceedOn: NewVerdictSet(Pass, Drop), Allowed: NewVerdictSet(Pass), ProgramName: "fb"}
	r := &Root{st: &state{
		Fallthrough: Drop, Mechanism: Linked,
		Programs: []programState{
			{programRecord: recordOf(progA), Object: hashOf(objA), Counter: 1},
			{programRecord: recordOf(progB), Object: hashOf(objB), Counter: 2},
		},
	}}
	chain := func() Chain {
		a, b := progA, progB
		a.Object, b.Object = objA, objB
		return Chain{a, b}
	}
	spec := Spec{Fallthrough: Drop}
	if !unchanged(r.st, chain(), spec, Linked) {
		t.Fatal("the running chain counts as changed")
	}
	// What the caller may leave out is derived from the identical object.
	c := chain()
	c[0].ProgramName, c[0].Frags = "", false
	if !unchanged(r.st, c, spec, Linked) {
		t.Error("a chain without program name and frags counts as changed")
	}

	for _, tc := range []struct {
		name string
		edit func(c Chain, s *Spec, k *Mechanism) Chain
	}{
		{"fall-through", func(c Chain, s *Spec, _ *Mechanism) Chain { s.Fallthrough = Pass; return c }},
		{"counters", func(c Chain, s *Spec, _ *Mechanism) Chain { s.NoCounters = true; return c }},
		{"mechanism", func(c Chain, _ *Spec, k *Mechanism) Chain { *k = Freplace; return c }},
		{"one program fewer", func(c Chain, _ *Spec, _ *Mechanism) Chain { return c[:1] }},
		{"one program more", func(c Chain, _ *Spec, _ *Mechanism) Chain { return append(c, Program{Name: "c"}) }},
		{"order", func(c Chain, _ *Spec, _ *Mechanism) Chain { return Chain{c[1], c[0]} }},
		{"object", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[1].Object = []byte("object b2"); return c }},
		{"name", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].Name = "a2"; return c }},
		{"priority", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].Priority++; return c }},
		{"proceed-on", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].ProceedOn = NewVerdictSet(Drop); return c }},
		{"allowed", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[1].Allowed = 0; return c }},
		{"shadow", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[1].Shadow = true; return c }},
		{"frags", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[1].Frags = true; return c }},
		{"owner", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].Owner = "you"; return c }},
		{"version", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].Version = "2"; return c }},
		{"program name", func(c Chain, _ *Spec, _ *Mechanism) Chain { c[0].ProgramName = "other"; return c }},
	} {
		s, k := spec, Linked
		c := tc.edit(chain(), &s, &k)
		if unchanged(r.st, c, s, k) {
			t.Errorf("%s changed, unchanged() is true", tc.name)
		}
	}
}

// TestPlanChange: the plan of a change is decided from the committed
// state alone: slot order, the mechanism and why, counter rows (kept for
// programs that stay, fresh ones for new programs), frags, and "nothing to
// do" for the running chain.
func TestPlanChange(t *testing.T) {
	objA, objB := []byte("object a"), []byte("object b")
	progA := Program{Name: "a", Priority: 10, ProceedOn: NewVerdictSet(Pass), ProgramName: "fa", Frags: true}
	st := &state{Fallthrough: Pass, Mechanism: Inline, Reason: "why it was chosen",
		Programs: []programState{{programRecord: recordOf(progA), Object: hashOf(objA), Counter: 3}}}
	a := progA
	a.Object = objA
	same, err := planChange(st, Spec{Programs: Chain{a}}, nil)
	if err != nil || !same.unchanged {
		t.Fatalf("the running chain: %+v, %v; want unchanged", same, err)
	}
	b := Program{Name: "b", Priority: 5, ProceedOn: NewVerdictSet(Pass), ProgramName: "fb", Object: objB}
	c, err := planChange(st, Spec{Programs: Chain{a, b}}, nil)
	if err != nil || c.unchanged {
		t.Fatalf("adding b: %+v, %v", c, err)
	}
	if got := chainNamesOf(c.chain); got != "b,a" {
		t.Errorf("slot order %s, want b,a (priority)", got)
	}
	if c.kind != Inline || c.reason != "why it was chosen" {
		t.Errorf("mechanism %s (%q), want the root's with its reason", c.kind, c.reason)
	}
	if c.counters["a"] == 3 || c.counters["b"] == 3 || c.counters["a"] == 0 || c.counters["b"] == 0 || c.counters["a"] == c.counters["b"] {
		t.Errorf("counter rows %v: want rows of their own, not the running generation's 3", c.counters)
	}
	if c.frags {
		t.Error("frags with b not frags-aware")
	}
	if _, had := c.prev["a"]; !had {
		t.Error("a's committed state is not carried to the executor")
	}
	if _, err := planChange(st, Spec{Programs: Chain{a, a}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a duplicate name: %v, want ErrInvalid", err)
	}
	if _, err := planChange(st, Spec{Fallthrough: Verdict(9)}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("fall-through 9: %v, want ErrInvalid", err)
	}
}

func chainNamesOf(c Chain) string {
	var out []string
	for _, p := range c {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}
