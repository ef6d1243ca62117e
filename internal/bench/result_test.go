package bench

import (
	"math"
	"strings"
	"testing"
)

func measured(kind Kind, n int, counters Counters, ns float64) Row {
	r := Row{Kind: kind, Programs: n, Counters: counters, Samples: []Sample{{NsPerPacket: ns, KernelNs: math.Floor(ns)}}}
	r.summarize()
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAnalyze(t *testing.T) {
	res := &Result{Rows: []Row{
		measured(Plain, 1, "", 10),
		measured(Monolithic, 4, "", 20),
		measured(MonolithicInline, 4, "", 12),
		measured(Linked, 0, CountersOn, 11),
		measured(Linked, 0, CountersOff, 10.5),
		measured(Linked, 4, CountersOn, 24),
		measured(Linked, 4, CountersOff, 21),
		measured(Linked, 16, CountersOn, 100), // no monolithic 16 measured
		measured(Linked, 16, CountersOff, 60),
		{Kind: Freplace, Programs: 4, Counters: CountersOn, Skipped: "kernel refuses BPF trampolines"},
	}}
	res.analyze()

	l4 := res.Row(Linked, 4, CountersOn)
	if !near(l4.VsPlain, 2.4) || !near(l4.VsMonolithic, 1.2) || !near(l4.VsInline, 2) {
		t.Errorf("linked 4 on: vs plain %v, vs monolithic %v, vs inline %v; want 2.4, 1.2, 2", l4.VsPlain, l4.VsMonolithic, l4.VsInline)
	}
	if r := res.Row(Linked, 16, CountersOff); r.VsMonolithic != 0 || !near(r.VsPlain, 6) {
		t.Errorf("linked 16: vs monolithic %v (want none), vs plain %v", r.VsMonolithic, r.VsPlain)
	}
	if res.Row(Freplace, 4, CountersOn) != nil {
		t.Error("a skipped row was returned as measured")
	}

	wantCosts := map[int]float64{0: 0.5, 4: 0.75, 16: 2.5}
	if len(res.CounterCosts) != len(wantCosts) {
		t.Fatalf("counter costs %+v", res.CounterCosts)
	}
	for _, c := range res.CounterCosts {
		if !near(c.PerSlot, wantCosts[c.Programs]) {
			t.Errorf("counter cost of linked %d: %v per slot, want %v", c.Programs, c.PerSlot, wantCosts[c.Programs])
		}
	}

	ok := map[string]bool{}
	for _, c := range res.Checks {
		ok[c.Name] = c.OK
	}
	want := map[string]bool{
		"counter cost per slot, linked 4":        true,
		"counter cost per slot, linked 16":       false,
		"linked 4 (counters on) / monolithic 4":  false, // 1.2
		"linked 4 (counters off) / monolithic 4": true,  // 1.05
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

	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"| linked | 4 | on | 24.00 | 0.0% (24.00–24.00) | 24 | 2.400 | 1.200 | 2.000 |",
		"| plain | 1 | – | 10.00 |",
		"| linked | 16 | 100.00 | 60.00 | +40.00 | 2.50 |",
		"| linked 4 (counters on) / monolithic 4 | 1.200 | ≤ 1.10 | **no** |",
		"- freplace 4 (counters on): kernel refuses BPF trampolines",
	} {
		if !strings.Contains(out, s) && !strings.Contains(strings.ReplaceAll(out, " ", ""), strings.ReplaceAll(s, " ", "")) {
			t.Errorf("markdown lacks %q:\n%s", s, out)
		}
	}
}
