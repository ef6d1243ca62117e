package bench

import (
	"fmt"
	"math"
	"slices"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Kind is what a row measures.
type Kind string

// Row kinds.
const (
	// Plain is the test program loaded alone and attached directly.
	Plain Kind = "plain"
	// Monolithic is one program calling N bodies of the test program as
	// subprograms in turn.
	Monolithic Kind = "monolithic"
	// MonolithicInline is one program with N bodies of the test program
	// inlined back to back.
	MonolithicInline Kind = "monolithic-inline"
	// TailCall is an L3AF/Katran-style chain of N programs, each tail-
	// calling the next with a constant key.
	TailCall Kind = "tailcall"
	// Linked is xdpchain's dispatcher with linked slots.
	Linked Kind = Kind(dispatcher.Linked)
	// Inline is xdpchain's dispatcher with inline slots.
	Inline Kind = Kind(dispatcher.Inline)
	// Freplace is xdpchain's dispatcher with freplace slots.
	Freplace Kind = Kind(dispatcher.Freplace)
	// LibXDP is libxdp's dispatcher with freplace slots.
	LibXDP Kind = "libxdp"
)

// Counters says whether a dispatcher row counts packets.
type Counters string

// Counter settings; the empty value means "not a dispatcher of ours".
const (
	CountersOn  Counters = "on"
	CountersOff Counters = "off"
)

// Row is one measured configuration.
type Row struct {
	Kind Kind `json:"kind"`
	// Program is the test program the row runs (ProgramNoop, ProgramUDP).
	Program  string   `json:"program"`
	Programs int      `json:"programs"`
	Counters Counters `json:"counters,omitempty"`
	// Observed names the observation the dispatcher runs with
	// (Observations); empty: none.
	Observed string `json:"observed,omitempty"`
	// Skipped gives the reason a row was not measured.
	Skipped string `json:"skipped,omitempty"`

	// Samples are the rounds' measurements in the order taken.
	Samples []Sample `json:"samples,omitempty"`
	// Median, Min and Max of the samples' NsPerPacket.
	Median float64 `json:"ns_per_packet"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// KernelNs is the median of the kernel's own (integer) figures.
	KernelNs float64 `json:"kernel_ns"`

	// Ratios to baselines of the same run and test program; 0 where there
	// is none: the plain program, and the monolithic program (calls), the
	// back-to-back program (monolithic-inline) and the tail-call chain of
	// the same N.
	VsPlain      float64 `json:"vs_plain,omitempty"`
	VsMonolithic float64 `json:"vs_monolithic,omitempty"`
	VsInline     float64 `json:"vs_monolithic_inline,omitempty"`
	VsTailCall   float64 `json:"vs_tailcall,omitempty"`
}

// Label names the row, e.g. "linked 16 udp (counters on)".
func (r Row) Label() string {
	s := fmt.Sprintf("%s %d", r.Kind, r.Programs)
	if r.Program != "" {
		s += " " + r.Program
	}
	if r.Counters != "" {
		s += fmt.Sprintf(" (counters %s)", r.Counters)
	}
	if r.Observed != "" {
		s += fmt.Sprintf(" [%s]", r.Observed)
	}
	return s
}

// Spread is (max − min) / median: how far apart the rounds were.
func (r Row) Spread() float64 {
	if r.Median == 0 {
		return 0
	}
	return (r.Max - r.Min) / r.Median
}

// summarize fills Median, Min, Max and KernelNs from Samples.
func (r *Row) summarize() {
	if len(r.Samples) == 0 {
		return
	}
	ns := make([]float64, len(r.Samples))
	kern := make([]float64, len(r.Samples))
	for i, s := range r.Samples {
		ns[i] = s.NsPerPacket
		kern[i] = s.KernelNs
	}
	r.Median = Median(ns)
	r.Min = slices.Min(ns)
	r.Max = slices.Max(ns)
	r.KernelNs = Median(kern)
}

// Median returns the middle value (mean of the two middle ones for an even
// count); NaN for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}
