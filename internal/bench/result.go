package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Targets of the benchmark for the call-based rows (docs/benchmarks.md,
// "Targets"; the inline mechanism's are ChainSpeedTargets).
const (
	// TargetVsMonolithic is the largest acceptable ratio of a linked chain
	// of N programs to the monolithic program with the same N.
	TargetVsMonolithic = 1.10
	// TargetCounterNs is the largest acceptable counter cost per slot.
	TargetCounterNs = 1.0
	// TargetInlineCounterNs is the largest acceptable counter cost per slot
	// of the inline mechanism's chain of TargetInlineCounterPrograms.
	TargetInlineCounterNs       = 0.1
	TargetInlineCounterPrograms = 64
)

// Result is a run's measurements and what follows from them.
type Result struct {
	Kernel   string    `json:"kernel"`
	Started  time.Time `json:"started"`
	Repeat   int       `json:"repeat"`
	Rounds   int       `json:"rounds"`
	Packet   int       `json:"packet_bytes"`
	BPFStats bool      `json:"bpf_stats_enabled"`

	Rows         []Row         `json:"rows"`
	CounterCosts []CounterCost `json:"counter_costs"`
	Checks       []Check       `json:"checks"`
	// Swaps are the generation swap timings, one per mechanism.
	Swaps []SwapTime `json:"swaps"`
	// Notes are warnings about the run.
	Notes []string `json:"notes,omitempty"`
}

// ChainSpeedTarget is a target of the chain-speed issue: the inline
// mechanism's chain of Programs programs, with counters as given, at most
// Max times the baseline (MonolithicInline: the back-to-back program;
// TailCall: the tail-call chain) of the same N and test program.
type ChainSpeedTarget struct {
	Programs int
	Counters Counters
	Baseline Kind
	Max      float64
}

// ChainSpeedTargets are checked for the rows of the inline mechanism.
var ChainSpeedTargets = []ChainSpeedTarget{
	{Programs: 10, Counters: CountersOn, Baseline: MonolithicInline, Max: 1.05},
	{Programs: 64, Counters: CountersOn, Baseline: MonolithicInline, Max: 1.10},
	{Programs: 10, Counters: CountersOn, Baseline: TailCall, Max: 1.0},
	{Programs: 16, Counters: CountersOn, Baseline: TailCall, Max: 1.0},
}

// baselineName names a baseline kind in check names and headers.
func baselineName(k Kind) string {
	switch k {
	case MonolithicInline:
		return "back-to-back"
	case TailCall:
		return "tail-call chain"
	}
	return string(k)
}

// CounterCost is what counters add to a dispatcher with N programs.
type CounterCost struct {
	Mechanism Kind    `json:"mechanism"`
	Program   string  `json:"program"`
	Programs  int     `json:"programs"`
	On        float64 `json:"on"`
	Off       float64 `json:"off"`
	// PerSlot is (On − Off) / Programs; for an empty chain, On − Off (the
	// fall-through counter alone).
	PerSlot float64 `json:"per_slot"`
}

// Check is one target and whether this run met it.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	OK     bool    `json:"ok"`
}

// Row returns the measured row of a configuration, or nil.
func (r *Result) Row(program string, kind Kind, programs int, counters Counters) *Row {
	row := r.find(program, kind, programs, counters)
	if row == nil || row.Skipped != "" {
		return nil
	}
	return row
}

// find returns the row of an unobserved configuration, measured or
// skipped, or nil.
func (r *Result) find(program string, kind Kind, programs int, counters Counters) *Row {
	return r.findObserved(Row{Program: program, Kind: kind, Programs: programs, Counters: counters})
}

// findObserved returns the row of like's configuration and observation
// (like.Observed), measured or skipped, or nil.
func (r *Result) findObserved(like Row) *Row {
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Program == like.Program && row.Kind == like.Kind && row.Programs == like.Programs && row.Counters == like.Counters && row.Observed == like.Observed {
			return row
		}
	}
	return nil
}

// Failed returns the checks that missed their target.
func (r *Result) Failed() []Check { return failed(r.Checks) }

// failed returns the checks that missed their target.
func failed(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// baseline reports whether rows of kind k are baselines (not chained by a
// dispatcher): they get no ratios but to the plain program.
func baseline(k Kind) bool { return k == Plain || k == Monolithic || k == MonolithicInline }

// analyze computes every ratio, counter cost and check from the medians.
func (r *Result) analyze() {
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Skipped != "" {
			continue
		}
		if plain := r.Row(row.Program, Plain, 1, ""); plain != nil {
			row.VsPlain = ratio(row.Median, plain.Median)
		}
		if baseline(row.Kind) {
			continue
		}
		if m := r.Row(row.Program, Monolithic, row.Programs, ""); m != nil {
			row.VsMonolithic = ratio(row.Median, m.Median)
		}
		if m := r.Row(row.Program, MonolithicInline, row.Programs, ""); m != nil {
			row.VsInline = ratio(row.Median, m.Median)
		}
		if m := r.Row(row.Program, TailCall, row.Programs, ""); m != nil && row.Kind != TailCall {
			row.VsTailCall = ratio(row.Median, m.Median)
		}
	}
	r.CounterCosts = nil
	r.Checks = nil
	for _, row := range r.Rows {
		if row.Counters != CountersOn || row.Skipped != "" || row.Observed != "" {
			continue
		}
		off := r.Row(row.Program, row.Kind, row.Programs, CountersOff)
		if off == nil {
			continue
		}
		c := CounterCost{Mechanism: row.Kind, Program: row.Program, Programs: row.Programs, On: row.Median, Off: off.Median, PerSlot: row.Median - off.Median}
		if row.Programs > 0 {
			c.PerSlot /= float64(row.Programs)
			check := Check{
				Name:   fmt.Sprintf("counter cost per slot, %s %d %s", row.Kind, row.Programs, row.Program),
				Value:  c.PerSlot,
				Target: fmt.Sprintf("< %.0f ns", TargetCounterNs),
				OK:     c.PerSlot < TargetCounterNs,
			}
			if row.Kind == Inline && row.Programs == TargetInlineCounterPrograms {
				check.Target = fmt.Sprintf("≤ %.1f ns", TargetInlineCounterNs)
				check.OK = c.PerSlot <= TargetInlineCounterNs
			}
			r.Checks = append(r.Checks, check)
		}
		r.CounterCosts = append(r.CounterCosts, c)
	}
	for _, row := range r.Rows {
		if row.Kind != Linked || row.VsMonolithic == 0 {
			continue
		}
		r.Checks = append(r.Checks, Check{
			Name:   fmt.Sprintf("%s / monolithic %d", row.Label(), row.Programs),
			Value:  row.VsMonolithic,
			Target: fmt.Sprintf("≤ %.2f", TargetVsMonolithic),
			OK:     row.VsMonolithic <= TargetVsMonolithic,
		})
	}
	r.Checks = append(r.Checks, r.chainSpeedChecks()...)
	r.Checks = append(r.Checks, r.observedChecks()...)
}

// TargetSampledProfile is the most a profile sampling one packet in 1000
// may add to a chain of 10, in percent.
const TargetSampledProfile = 2.0

// observedChecks checks TargetSampledProfile against the unobserved row
// of the same configuration, for the profile sampling 1 in 1000 and for
// the one sampling 1 in 2^30 (the unsampled packets' path alone, which a
// sampled profile's cost less the timed packets' share cannot exceed):
// the median of the rounds' ratios (the rows
// are measured round robin, so each round's two samples are close in
// time and share the machine's load), with their range in the check's
// name; the ratio of the medians where the rounds do not pair.
func (r *Result) observedChecks() []Check {
	var out []Check
	for _, row := range r.Rows {
		if (row.Observed != ObservedSampled && row.Observed != ObservedUnsampled) || row.Programs != 10 || row.Skipped != "" {
			continue
		}
		base := r.Row(row.Program, row.Kind, row.Programs, row.Counters)
		if base == nil {
			continue
		}
		added := (row.Median/base.Median - 1) * 100
		name := fmt.Sprintf("%s vs unobserved", row.Label())
		if len(row.Samples) == len(base.Samples) && len(row.Samples) > 0 {
			ratios := make([]float64, len(row.Samples))
			for i, s := range row.Samples {
				ratios[i] = (s.NsPerPacket/base.Samples[i].NsPerPacket - 1) * 100
			}
			added = Median(ratios)
			name += fmt.Sprintf(" (median of %d rounds' ratios, %+.1f … %+.1f %%)", len(ratios), slices.Min(ratios), slices.Max(ratios))
		}
		like := row
		like.Observed = ObservedEvery100
		warm := r.findObserved(like)
		like.Observed = ObservedUnsampled
		unsampled := r.findObserved(like)
		if row.Observed == ObservedSampled && warm != nil && warm.Skipped == "" && unsampled != nil && unsampled.Skipped == "" {
			// What the timed packets add alone: a thousandth of what a
			// timed packet costs, from the one-in-100 row over the
			// unsampled path's (timed 10 times as often, its code is
			// warmer: a lower bound).
			timed := (warm.Median - unsampled.Median) * 100
			name += fmt.Sprintf(", of which timed packets %+.1f %% (%.0f ns each, from the 1/100 row)", timed/1000/base.Median*100, timed)
		}
		out = append(out, Check{
			Name:   name,
			Value:  added,
			Target: fmt.Sprintf("< %.0f %%", TargetSampledProfile),
			OK:     added < TargetSampledProfile,
		})
	}
	return out
}

// chainSpeedChecks checks ChainSpeedTargets for every test program with
// inline rows in the run. A target whose inline row was skipped is missed;
// one whose baseline was not measured is left out.
func (r *Result) chainSpeedChecks() []Check {
	var programs []string
	for _, row := range r.Rows {
		if row.Kind == Inline && !slices.Contains(programs, row.Program) {
			programs = append(programs, row.Program)
		}
	}
	var out []Check
	for _, program := range programs {
		for _, t := range ChainSpeedTargets {
			row := r.find(program, Inline, t.Programs, t.Counters)
			base := r.Row(program, t.Baseline, t.Programs, "")
			if row == nil || base == nil {
				continue
			}
			c := Check{
				Name:   fmt.Sprintf("%s / %s %d", row.Label(), baselineName(t.Baseline), t.Programs),
				Target: fmt.Sprintf("≤ %.2f", t.Max),
			}
			if row.Skipped != "" {
				c.Target += " (not measured: " + row.Skipped + ")"
			} else {
				c.Value = ratio(row.Median, base.Median)
				c.OK = c.Value <= t.Max
			}
			out = append(out, c)
		}
	}
	return out
}

// WriteMarkdown prints the result as markdown tables.
func (r *Result) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel %s, %d-byte UDP packet, BPF_PROG_TEST_RUN repeat %d, median of %d rounds (round robin), %s.\n",
		r.Kernel, r.Packet, r.Repeat, r.Rounds, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if r.BPFStats {
		b.WriteString("Warning: kernel.bpf_stats_enabled=1 adds a clock read per run to every row.\n")
	}
	b.WriteString("\n| configuration | program | programs | counters (observed) | ns/pkt | spread (min–max) | kernel ns | × plain | × monolithic | × back-to-back | × tail calls |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var skipped []Row
	for _, row := range r.Rows {
		if row.Skipped != "" {
			skipped = append(skipped, row)
			continue
		}
		counters := string(row.Counters)
		if counters == "" {
			counters = "–"
		}
		if row.Observed != "" {
			counters += ", " + row.Observed
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %.2f | %.1f%% (%.2f–%.2f) | %.0f | %s | %s | %s | %s |\n",
			row.Kind, row.Program, row.Programs, counters, row.Median, 100*row.Spread(), row.Min, row.Max, row.KernelNs,
			fmtRatio(row.VsPlain), fmtRatio(row.VsMonolithic), fmtRatio(row.VsInline), fmtRatio(row.VsTailCall))
	}
	if len(r.CounterCosts) > 0 {
		b.WriteString("\n| counters | program | programs | on ns/pkt | off ns/pkt | on − off | per slot |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
		for _, c := range r.CounterCosts {
			per := fmt.Sprintf("%.2f", c.PerSlot)
			if c.Programs == 0 {
				per = "– (fall-through only)"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.2f | %+.2f | %s |\n", c.Mechanism, c.Program, c.Programs, c.On, c.Off, c.On-c.Off, per)
		}
	}
	if len(r.Checks) > 0 {
		writeChecks(&b, r.Checks)
	}
	if line := swapLine(r.Swaps, r.Rounds); line != "" {
		b.WriteString("\n" + line + "\n")
	}
	var disturbed, samples int
	for _, row := range r.Rows {
		for _, s := range row.Samples {
			samples++
			if s.Disturbed {
				disturbed++
			}
		}
	}
	if disturbed > 0 {
		fmt.Fprintf(&b, "\n%d of %d samples were disturbed (in every attempt the thread's CPU time and the kernel's figure disagreed): they count as the kernel's figure + 0.5 ns.\n", disturbed, samples)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s.\n", n)
	}
	if len(skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, row := range skipped {
			fmt.Fprintf(&b, "- %s: %s\n", row.Label(), row.Skipped)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// swapLine is the plain-text line of the swap timings, "" for none.
func swapLine(swaps []SwapTime, rounds int) string {
	if len(swaps) == 0 {
		return ""
	}
	var parts []string
	for _, st := range swaps {
		if st.Skipped != "" {
			parts = append(parts, fmt.Sprintf("%s skipped (%s)", st.Mechanism, st.Skipped))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f ms (%.1f–%.1f)", st.Mechanism, st.Median, st.Min, st.Max))
	}
	st := swaps[0]
	return fmt.Sprintf("Swap in a changed %d-program generation (%s chain, first program replaced; one Update, median of %d): %s.",
		st.Programs, st.Program, rounds, strings.Join(parts, ", "))
}

func fmtRatio(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.3f", v)
}

// progressf prints one progress line when a writer is set.
func progressf(w io.Writer, format string, args ...any) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// writeChecks prints checks as a markdown table.
func writeChecks(b *strings.Builder, checks []Check) {
	b.WriteString("\n| target | value | wanted | met |\n|---|---:|---|---|\n")
	for _, c := range checks {
		ok := "yes"
		if !c.OK {
			ok = "**no**"
		}
		fmt.Fprintf(b, "| %s | %.3f | %s | %s |\n", c.Name, c.Value, c.Target, ok)
	}
}
