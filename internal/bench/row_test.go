package bench

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000, 10, 11}, 10},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("median reordered its input: %v", tc.in)
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestSummarize(t *testing.T) {
	r := Row{Kind: Linked, Programs: 4, Counters: CountersOn, Samples: []Sample{
		{NsPerPacket: 10.5, KernelNs: 10},
		{NsPerPacket: 12, KernelNs: 11},
		{NsPerPacket: 11, KernelNs: 11},
	}}
	r.summarize()
	if r.Median != 11 || r.Min != 10.5 || r.Max != 12 || r.KernelNs != 11 {
		t.Errorf("summary median %v min %v max %v kernel %v, want 11 10.5 12 11", r.Median, r.Min, r.Max, r.KernelNs)
	}
	if got, want := r.Spread(), 1.5/11; math.Abs(got-want) > 1e-12 {
		t.Errorf("spread %v, want %v", got, want)
	}
	if got := r.Label(); got != "linked 4 (counters on)" {
		t.Errorf("label %q", got)
	}
	if got := (Row{Kind: Plain, Programs: 1}).Label(); got != "plain 1" {
		t.Errorf("label %q", got)
	}
}
