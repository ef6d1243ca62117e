package bench

import (
	"math"
	"strings"
	"testing"
)

func measured(kind Kind, n int, counters Counters, ns float64) Row {
	return measuredOf(ProgramNoop, kind, n, counters, ns)
}

func measuredOf(program string, kind Kind, n int, counters Counters, ns float64) Row {
	r := Row{Kind: kind, Program: program, Programs: n, Counters: counters, Samples: []Sample{{NsPerPacket: ns, KernelNs: math.Floor(ns)}}}
	r.summarize()
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAnalyze(t *testing.T) {
	res := &Result{Rows: []Row{
		measured(Plain, 1, "", 10),
		measured(Monolithic, 4, "", 20),
		measured(MonolithicInline, 4, "", 12),
		measured(TailCall, 4, "", 16),
		measured(Linked, 0, CountersOn, 11),
		measured(Linked, 0, CountersOff, 10.5),
		measured(Linked, 4, CountersOn, 24),
		measured(Linked, 4, CountersOff, 21),
		measured(Linked, 16, CountersOn, 100), // no monolithic 16 measured
		measured(Linked, 16, CountersOff, 60),
		{Kind: Freplace, Program: ProgramNoop, Programs: 4, Counters: CountersOn, Skipped: "kernel refuses BPF trampolines"},
		// The udp phase: ratios are taken within it.
		measuredOf(ProgramUDP, Plain, 1, "", 20),
		measuredOf(ProgramUDP, Monolithic, 4, "", 40),
		measuredOf(ProgramUDP, Linked, 4, CountersOn, 42),
	}}
	res.analyze()

	l4 := res.Row(ProgramNoop, Linked, 4, CountersOn)
	if !near(l4.VsPlain, 2.4) || !near(l4.VsMonolithic, 1.2) || !near(l4.VsInline, 2) || !near(l4.VsTailCall, 1.5) {
		t.Errorf("linked 4 on: vs plain %v, vs monolithic %v, vs inline %v, vs tail calls %v; want 2.4, 1.2, 2, 1.5", l4.VsPlain, l4.VsMonolithic, l4.VsInline, l4.VsTailCall)
	}
	if tc := res.Row(ProgramNoop, TailCall, 4, ""); !near(tc.VsInline, 16.0/12) || tc.VsTailCall != 0 || !near(tc.VsMonolithic, 0.8) {
		t.Errorf("tailcall 4: vs inline %v, vs tail calls %v, vs monolithic %v; want 1.333, none, 0.8", tc.VsInline, tc.VsTailCall, tc.VsMonolithic)
	}
	if m := res.Row(ProgramNoop, Monolithic, 4, ""); m.VsInline != 0 || m.VsTailCall != 0 || !near(m.VsPlain, 2) {
		t.Errorf("monolithic 4: vs inline %v, vs tail calls %v (want none), vs plain %v", m.VsInline, m.VsTailCall, m.VsPlain)
	}
	if r := res.Row(ProgramNoop, Linked, 16, CountersOff); r.VsMonolithic != 0 || !near(r.VsPlain, 6) {
		t.Errorf("linked 16: vs monolithic %v (want none), vs plain %v", r.VsMonolithic, r.VsPlain)
	}
	if u := res.Row(ProgramUDP, Linked, 4, CountersOn); !near(u.VsPlain, 2.1) || !near(u.VsMonolithic, 1.05) || u.VsInline != 0 {
		t.Errorf("linked 4 udp: vs plain %v, vs monolithic %v, vs inline %v; want 2.1, 1.05, none (the noop rows are another phase)", u.VsPlain, u.VsMonolithic, u.VsInline)
	}
	if res.Row(ProgramNoop, Freplace, 4, CountersOn) != nil {
		t.Error("a skipped row was returned as measured")
	}

	wantCosts := map[int]float64{0: 0.5, 4: 0.75, 16: 2.5}
	if len(res.CounterCosts) != len(wantCosts) {
		t.Fatalf("counter costs %+v", res.CounterCosts)
	}
	for _, c := range res.CounterCosts {
		if !near(c.PerSlot, wantCosts[c.Programs]) || c.Program != ProgramNoop {
			t.Errorf("counter cost of linked %d %s: %v per slot, want %v", c.Programs, c.Program, c.PerSlot, wantCosts[c.Programs])
		}
	}

	ok := map[string]bool{}
	for _, c := range res.Checks {
		ok[c.Name] = c.OK
	}
	want := map[string]bool{
		"counter cost per slot, linked 4 noop":        true,
		"counter cost per slot, linked 16 noop":       false,
		"linked 4 noop (counters on) / monolithic 4":  false, // 1.2
		"linked 4 noop (counters off) / monolithic 4": true,  // 1.05
		"linked 4 udp (counters on) / monolithic 4":   true,  // 1.05
	}
	for name, w := range want {
		got, found := ok[name]
		if !found || got != w {
			t.Errorf("check %q: found %v ok %v, want ok %v (checks %+v)", name, found, got, w, res.Checks)
		}
	}
	if len(res.Checks) != len(want) {
		t.Errorf("%d checks, want %d: %+v", len(res.Checks), len(want), res.Checks)
	}
	if len(res.Failed()) != 2 {
		t.Errorf("failed checks %+v, want 2", res.Failed())
	}

	res.Swaps = []SwapTime{
		{Mechanism: Linked, Program: ProgramUDP, Programs: 64, Samples: []float64{80, 90, 85}, Median: 85, Min: 80, Max: 90},
		{Mechanism: Freplace, Program: ProgramUDP, Programs: 64, Skipped: "no trampolines"},
	}
	res.Rounds = 3
	res.Notes = []string{"something to know"}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"| linked | noop | 4 | on | 24.00 | 0.0% (24.00–24.00) | 24 | 2.400 | 1.200 | 2.000 | 1.500 |",
		"| tailcall | noop | 4 | – | 16.00 |",
		"| plain | noop | 1 | – | 10.00 |",
		"| plain | udp | 1 | – | 20.00 |",
		"| linked | noop | 16 | 100.00 | 60.00 | +40.00 | 2.50 |",
		"| linked 4 noop (counters on) / monolithic 4 | 1.200 | ≤ 1.10 | **no** |",
		"- freplace 4 noop (counters on): kernel refuses BPF trampolines",
		"Swap in a changed 64-program generation (udp chain, first program replaced; one Update, median of 3): linked 85.0 ms (80.0–90.0), freplace skipped (no trampolines).",
		"Note: something to know.",
	} {
		if !strings.Contains(out, s) && !strings.Contains(strings.ReplaceAll(out, " ", ""), strings.ReplaceAll(s, " ", "")) {
			t.Errorf("markdown lacks %q:\n%s", s, out)
		}
	}
}

// TestChainSpeedChecks checks the chain-speed targets: only inline rows,
// against the back-to-back program and the tail-call chain of the same N
// and test program; a skipped inline row misses its targets, a missing
// baseline leaves them out.
func TestChainSpeedChecks(t *testing.T) {
	res := &Result{Rows: []Row{
		measured(MonolithicInline, 10, "", 40),
		measured(MonolithicInline, 64, "", 100),
		measured(TailCall, 10, "", 80),
		measured(TailCall, 16, "", 100),
		{Kind: TailCall, Program: ProgramNoop, Programs: 64, Skipped: tailCallSkip(64)},
		measured(Inline, 10, CountersOn, 42),      // 1.05 × back-to-back, 0.525 × tail calls
		measured(Inline, 10, CountersOff, 89),     // no target
		measured(Inline, 16, CountersOn, 101),     // 1.01 × tail calls
		measured(Inline, 64, CountersOn, 126),     // 1.26 × back-to-back
		measured(Inline, 64, CountersOff, 120.24), // counting (126-120.24)/64 = 0.09 ns per slot
		measured(Linked, 10, CountersOn, 500),     // not a chain-speed row
		// udp: the inline row skipped, the tail-call chain not measured.
		measuredOf(ProgramUDP, MonolithicInline, 10, "", 50),
		{Kind: Inline, Program: ProgramUDP, Programs: 10, Counters: CountersOn, Skipped: "broken"},
	}}
	res.analyze()
	got := map[string]Check{}
	for _, c := range res.Checks {
		got[c.Name] = c
	}
	for name, want := range map[string]struct {
		value float64
		ok    bool
	}{
		"inline 10 noop (counters on) / back-to-back 10":    {1.05, true},
		"inline 64 noop (counters on) / back-to-back 64":    {1.26, false},
		"inline 10 noop (counters on) / tail-call chain 10": {0.525, true},
		"inline 16 noop (counters on) / tail-call chain 16": {1.01, false},
		"inline 10 udp (counters on) / back-to-back 10":     {0, false},
		"counter cost per slot, inline 64 noop":             {0.09, true},
		"counter cost per slot, inline 10 noop":             {-47.0 / 10, true},
	} {
		c, found := got[name]
		if !found || !near(c.Value, want.value) || c.OK != want.ok {
			t.Errorf("check %q: found %v %+v, want value %v ok %v", name, found, c, want.value, want.ok)
		}
		delete(got, name)
	}
	for name := range got {
		if strings.HasPrefix(name, "inline") || strings.Contains(name, "linked 10 noop (counters on) /") {
			t.Errorf("unexpected check %q", name)
		}
	}
	if c := res.Checks[len(res.Checks)-1]; !strings.Contains(c.Target, "not measured: broken") {
		t.Errorf("the skipped row's check says %q, want its reason", c.Target)
	}
	if want := "33-tail-call kernel limit (a chain of 64 programs needs 63 tail calls)"; tailCallSkip(64) != want || tailCallSkip(TailCallMaxPrograms) != "" {
		t.Errorf("tail-call skips: 64 %q (want %q), %d %q (want none)", tailCallSkip(64), want, TailCallMaxPrograms, tailCallSkip(TailCallMaxPrograms))
	}
}

// TestObservedChecks checks the sampled profile's target on the rounds'
// ratios, with their range in the name.
func TestObservedChecks(t *testing.T) {
	rows := func(program string, base, profiled, unsampled []float64) []Row {
		var b, p, u Row
		b = Row{Kind: Inline, Program: program, Programs: 10, Counters: CountersOn}
		p = Row{Kind: Inline, Program: program, Programs: 10, Counters: CountersOn, Observed: ObservedSampled}
		u = Row{Kind: Inline, Program: program, Programs: 10, Counters: CountersOn, Observed: ObservedUnsampled}
		for i := range base {
			b.Samples = append(b.Samples, Sample{NsPerPacket: base[i]})
			p.Samples = append(p.Samples, Sample{NsPerPacket: profiled[i]})
			u.Samples = append(u.Samples, Sample{NsPerPacket: unsampled[i]})
		}
		b.summarize()
		p.summarize()
		u.summarize()
		e := Row{Kind: Inline, Program: program, Programs: 10, Counters: CountersOn, Observed: ObservedEvery100, Samples: []Sample{{NsPerPacket: 10 + u.Median}}}
		e.summarize()
		return []Row{b, p, u, e}
	}
	res := &Result{}
	// Rounds' ratios +1 %, +0 %, +3 %: median +1 %, met (the ratio of
	// the medians, 12 against 12, would say 0). Timing one packet in 100
	// costs 10 ns more than the unsampled path: a timed packet 1000 ns, a
	// thousandth of it 1 ns, +8.3 % of 12 and +5 % of 20.
	// The unsampled path: +0 %, +0 %, +2.5 %: median 0, met.
	res.Rows = append(res.Rows, rows(ProgramNoop, []float64{10, 12, 20}, []float64{10.1, 12, 20.6}, []float64{10, 12, 20.5})...)
	// One round each: +10 %, missed; the unsampled path +2 %, missed.
	res.Rows = append(res.Rows, rows(ProgramUDP, []float64{20}, []float64{22}, []float64{20.4})...)
	res.analyze()
	want := map[string]struct {
		value float64
		ok    bool
	}{
		"inline 10 noop (counters on) [profile 1/1000] vs unobserved (median of 3 rounds' ratios, +0.0 … +3.0 %), of which timed packets +8.3 % (1000 ns each, from the 1/100 row)":  {1, true},
		"inline 10 udp (counters on) [profile 1/1000] vs unobserved (median of 1 rounds' ratios, +10.0 … +10.0 %), of which timed packets +5.0 % (1000 ns each, from the 1/100 row)": {10, false},
		"inline 10 noop (counters on) [profile 1/2^30] vs unobserved (median of 3 rounds' ratios, +0.0 … +2.5 %)":                                                                    {0, true},
		"inline 10 udp (counters on) [profile 1/2^30] vs unobserved (median of 1 rounds' ratios, +2.0 … +2.0 %)":                                                                     {2, false},
	}
	for _, c := range res.Checks {
		w, ok := want[c.Name]
		if !ok {
			continue
		}
		if math.Abs(c.Value-w.value) > 1e-6 || c.OK != w.ok {
			t.Errorf("check %q: %+v, want value %v ok %v", c.Name, c, w.value, w.ok)
		}
		delete(want, c.Name)
	}
	for name := range want {
		t.Errorf("no check %q in %+v", name, res.Checks)
	}
}
