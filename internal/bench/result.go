package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Targets of the benchmark (issue 2 §5).
const (
	// TargetVsMonolithic is the largest acceptable ratio of a linked chain
	// of N programs to the monolithic program with the same N.
	TargetVsMonolithic = 1.10
	// TargetCounterNs is the largest acceptable counter cost per slot.
	TargetCounterNs = 1.0
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
}

// CounterCost is what counters add to a dispatcher with N programs.
type CounterCost struct {
	Mechanism Kind    `json:"mechanism"`
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
func (r *Result) Row(kind Kind, programs int, counters Counters) *Row {
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Kind == kind && row.Programs == programs && row.Counters == counters && row.Skipped == "" {
			return row
		}
	}
	return nil
}

// Failed returns the checks that missed their target.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// analyze computes every ratio, counter cost and check from the medians.
func (r *Result) analyze() {
	plain := r.Row(Plain, 1, "")
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Skipped != "" {
			continue
		}
		if plain != nil {
			row.VsPlain = ratio(row.Median, plain.Median)
		}
		switch row.Kind {
		case Linked, Freplace, LibXDP:
			if m := r.Row(Monolithic, row.Programs, ""); m != nil {
				row.VsMonolithic = ratio(row.Median, m.Median)
			}
			if m := r.Row(MonolithicInline, row.Programs, ""); m != nil {
				row.VsInline = ratio(row.Median, m.Median)
			}
		}
	}
	r.CounterCosts = nil
	r.Checks = nil
	for _, row := range r.Rows {
		if row.Counters != CountersOn || row.Skipped != "" {
			continue
		}
		off := r.Row(row.Kind, row.Programs, CountersOff)
		if off == nil {
			continue
		}
		c := CounterCost{Mechanism: row.Kind, Programs: row.Programs, On: row.Median, Off: off.Median, PerSlot: row.Median - off.Median}
		if row.Programs > 0 {
			c.PerSlot /= float64(row.Programs)
			r.Checks = append(r.Checks, Check{
				Name:   fmt.Sprintf("counter cost per slot, %s %d", row.Kind, row.Programs),
				Value:  c.PerSlot,
				Target: fmt.Sprintf("< %.0f ns", TargetCounterNs),
				OK:     c.PerSlot < TargetCounterNs,
			})
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
}

// WriteMarkdown prints the result as markdown tables.
func (r *Result) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel %s, %d-byte UDP packet, BPF_PROG_TEST_RUN repeat %d, median of %d rounds (round robin), %s.\n",
		r.Kernel, r.Packet, r.Repeat, r.Rounds, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if r.BPFStats {
		b.WriteString("Warning: kernel.bpf_stats_enabled=1 adds a clock read per run to every row.\n")
	}
	b.WriteString("\n| configuration | programs | counters | ns/pkt | spread (min–max) | kernel ns | × plain | × monolithic | × inline |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
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
		fmt.Fprintf(&b, "| %s | %d | %s | %.2f | %.1f%% (%.2f–%.2f) | %.0f | %s | %s | %s |\n",
			row.Kind, row.Programs, counters, row.Median, 100*row.Spread(), row.Min, row.Max, row.KernelNs,
			fmtRatio(row.VsPlain), fmtRatio(row.VsMonolithic), fmtRatio(row.VsInline))
	}
	if len(r.CounterCosts) > 0 {
		b.WriteString("\n| counters | programs | on ns/pkt | off ns/pkt | on − off | per slot |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|\n")
		for _, c := range r.CounterCosts {
			per := fmt.Sprintf("%.2f", c.PerSlot)
			if c.Programs == 0 {
				per = "– (fall-through only)"
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %+.2f | %s |\n", c.Mechanism, c.Programs, c.On, c.Off, c.On-c.Off, per)
		}
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n| target | value | wanted | met |\n|---|---:|---|---|\n")
		for _, c := range r.Checks {
			ok := "yes"
			if !c.OK {
				ok = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %.3f | %s | %s |\n", c.Name, c.Value, c.Target, ok)
		}
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
		fmt.Fprintf(&b, "\n%d of %d samples were disturbed (preempted in every attempt): they count as the kernel's figure + 0.5 ns.\n", disturbed, samples)
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
