package dispatcher_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestParseVerdict(t *testing.T) {
	for in, want := range map[string]dispatcher.Verdict{
		"aborted": dispatcher.Aborted, "XDP_DROP": dispatcher.Drop, " pass ": dispatcher.Pass,
		"Tx": dispatcher.TX, "xdp_redirect": dispatcher.Redirect,
	} {
		got, err := dispatcher.ParseVerdict(in)
		if err != nil || got != want {
			t.Errorf("ParseVerdict(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "accept", "XDP_", "5"} {
		if _, err := dispatcher.ParseVerdict(in); !errors.Is(err, dispatcher.ErrInvalid) {
			t.Errorf("ParseVerdict(%q): %v, want ErrInvalid", in, err)
		}
	}
	if s := dispatcher.Verdict(7).String(); s != "verdict(7)" {
		t.Errorf("String of 7: %q", s)
	}
	if dispatcher.Verdict(5).Valid() || !dispatcher.Redirect.Valid() {
		t.Error("Valid is wrong at the edge")
	}
	b, err := json.Marshal(struct{ V dispatcher.Verdict }{dispatcher.Drop})
	if err != nil || string(b) != `{"V":"drop"}` {
		t.Errorf("JSON: %s, %v", b, err)
	}
	var back struct{ V dispatcher.Verdict }
	if err := json.Unmarshal([]byte(`{"V":"XDP_TX"}`), &back); err != nil || back.V != dispatcher.TX {
		t.Errorf("JSON back: %v, %v", back.V, err)
	}
}

func TestParseVerdictSet(t *testing.T) {
	set, err := dispatcher.ParseVerdictSet("drop, pass,XDP_PASS")
	if err != nil {
		t.Fatal(err)
	}
	if want := dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop); set != want {
		t.Errorf("set %#x, want %#x", set, want)
	}
	if set.String() != "drop,pass" || !set.Has(dispatcher.Drop) || set.Has(dispatcher.TX) {
		t.Errorf("set %s", set)
	}
	if empty, err := dispatcher.ParseVerdictSet(""); err != nil || empty != 0 {
		t.Errorf("empty string: %v, %v", empty, err)
	}
	if b, _ := json.Marshal(dispatcher.VerdictSet(0).Strings()); string(b) != "[]" {
		t.Errorf("empty set marshals as %s, want []", b)
	}
	if _, err := dispatcher.ParseVerdictSet("pass,maybe"); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("unknown verdict: %v", err)
	}
	if got := dispatcher.AllVerdicts.Verdicts(); len(got) != 5 {
		t.Errorf("AllVerdicts has %v", got)
	}
}

// TestVerdictsOnTraffic checks on real packets what the semantics table
// checks with BPF_PROG_TEST_RUN: final and continuing verdicts, shadow
// programs, allowed verdicts, invalid verdicts and the fall-through
// verdict, each with the counter that must record it.
func TestVerdictsOnTraffic(t *testing.T) {
	vmtest.LogWhere(t)
	prog := func(t *testing.T, object, name string, prio int, edit func(*dispatcher.Program)) dispatcher.Program {
		p := program(t, object, name)
		p.Priority = prio
		if edit != nil {
			edit(&p)
		}
		return p
	}
	type counted struct {
		program string // "" for the fall-through counter
		field   func(dispatcher.Stats) uint64
	}
	drop := func(s dispatcher.Stats) uint64 { return s.Drop }
	pass := func(s dispatcher.Stats) uint64 { return s.Pass }
	cases := []struct {
		name        string
		chain       func(t *testing.T) dispatcher.Chain
		fallThrough dispatcher.Verdict
		arrive      bool
		counts      []counted // each must have counted every datagram
	}{
		{"drop is final", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.VerdictDrop, "dropper", 10, nil), prog(t, testprogs.Counter, "after", 20, nil)}
		}, dispatcher.Pass, false, []counted{{"dropper", drop}}},
		{"proceed on drop continues", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{
				prog(t, testprogs.VerdictDrop, "dropper", 10, func(p *dispatcher.Program) { p.ProceedOn = dispatcher.NewVerdictSet(dispatcher.Drop) }),
				prog(t, testprogs.Counter, "after", 20, nil),
			}
		}, dispatcher.Pass, true, []counted{{"dropper", drop}, {"after", pass}, {"", pass}}},
		{"shadow counts but continues", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.VerdictDrop, "dry-run", 10, func(p *dispatcher.Program) { p.Shadow = true })}
		}, dispatcher.Pass, true, []counted{{"dry-run", drop}, {"", pass}}},
		{"verdict not allowed is denied", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.VerdictDrop, "limited", 10, func(p *dispatcher.Program) {
				p.Allowed = dispatcher.NewVerdictSet(dispatcher.Pass)
			})}
		}, dispatcher.Pass, false, []counted{{"limited", func(s dispatcher.Stats) uint64 { return s.Denied }}}},
		{"invalid verdict aborts", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.VerdictInvalid, "invalid", 10, nil)}
		}, dispatcher.Pass, false, []counted{{"invalid", func(s dispatcher.Stats) uint64 { return s.Invalid }}}},
		{"aborted is final", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.VerdictAborted, "aborter", 10, nil)}
		}, dispatcher.Pass, false, []counted{{"aborter", func(s dispatcher.Stats) uint64 { return s.Aborted }}}},
		{"fall-through drop after passing programs", func(t *testing.T) dispatcher.Chain {
			return dispatcher.Chain{prog(t, testprogs.Noop, "noop", 10, nil)}
		}, dispatcher.Drop, false, []counted{{"noop", pass}, {"", pass}}},
		{"empty chain falls through to drop", func(t *testing.T) dispatcher.Chain { return nil }, dispatcher.Drop, false, []counted{{"", pass}}},
		{"empty chain falls through to pass", func(t *testing.T) dispatcher.Chain { return nil }, dispatcher.Pass, true, []counted{{"", pass}}},
	}
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := r.Apply(dispatcher.Spec{Programs: tc.chain(t), Fallthrough: tc.fallThrough}); err != nil {
					t.Fatal(err)
				}
				if got := status(t, r).Fallthrough; got != tc.fallThrough.String() {
					t.Errorf("status fall-through %q, want %q", got, tc.fallThrough)
				}
				before := statsByName(t, r)
				const n = 8
				f.expectUDP(t, false, passPort, n, tc.arrive)
				after := statsByName(t, r)
				for _, c := range tc.counts {
					if got := c.field(sub(after[c.program], before[c.program])); got < n {
						t.Errorf("counter of %q recorded %d of the %d datagrams (%+v)", c.program, got, n, sub(after[c.program], before[c.program]))
					}
				}
			})
		}
	})
}

// TestZeroSpecFallsThroughToPass applies a Spec that leaves Fallthrough
// unset: the fall-through verdict must be the documented default, pass
// (README, "Using it"), not the zero Verdict, aborted, which would silently drop
// every packet that the chain lets through.
func TestZeroSpecFallsThroughToPass(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	r := f.attach(t)
	if err := r.Apply(dispatcher.Spec{Programs: dispatcher.Chain{program(t, testprogs.DropPort, "dropport")}}); err != nil {
		t.Fatal(err)
	}
	if got := status(t, r).Fallthrough; got != "pass" {
		t.Errorf("fall-through of a Spec without one: %q, want pass", got)
	}
	f.expectUDP(t, false, passPort, 5, true)
}
