package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestRunVeth runs the veth path once, short, for both test programs:
// every configuration moved frames in every round (a loop whose frames
// were lost fails the run), every dispatcher ran its chain as configured
// (RunVeth checks the counters), the back-to-back program is there, the
// ratios are those of the same rounds, and the table names every row. It
// asserts no rate.
func TestRunVeth(t *testing.T) {
	testutil.RequireRoot(t)
	const rounds = 2
	res, err := RunVeth(context.Background(), &VethOptions{Count: 4, Rounds: rounds, Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []Kind{Plain, MonolithicInline, TailCall, Linked, Inline}
	if len(res.Rows) != 2*len(kinds) {
		t.Fatalf("%d rows, want per program the final program alone, back-to-back, the tail-call chain, linked and inline: %+v", len(res.Rows), res.Rows)
	}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for p, program := range []string{ProgramNoop, ProgramUDP} {
		phase := res.Rows[p*len(kinds) : (p+1)*len(kinds)]
		alone, back := phase[0], phase[1]
		for i, want := range kinds {
			row := phase[i]
			if row.Kind != want || row.Program != program || row.Skipped != "" || len(row.Mpps) != rounds || row.Median <= 0 {
				t.Errorf("%s row %d: %+v, want %s measured in %d rounds", program, i, row, want, rounds)
				continue
			}
			if want != Plain && row.Programs != 5 {
				t.Errorf("%s: %d programs, want 5", vethLabel(row), row.Programs)
			}
			// The ratios are medians of the per-round ratios: of two
			// rounds, the mean of the two.
			for _, r := range []struct {
				name     string
				got      float64
				baseline VethRow
			}{{"× alone", row.VsAlone, alone}, {"× back-to-back", row.VsBackToBack, back}} {
				want := (row.Mpps[0]/r.baseline.Mpps[0] + row.Mpps[1]/r.baseline.Mpps[1]) / 2
				if !near(r.got, want) {
					t.Errorf("%s: %s %v, want %v from the rounds %v and %v", vethLabel(row), r.name, r.got, want, row.Mpps, r.baseline.Mpps)
				}
			}
			if line := fmt.Sprintf("| %s | %d |", vethLabel(row), row.Programs); !strings.Contains(b.String(), line) {
				t.Errorf("table lacks %q:\n%s", line, b.String())
			}
		}
		if alone.VsAlone != 1 || back.VsBackToBack != 1 {
			t.Errorf("%s: the final program alone is %v × itself, back-to-back %v × itself", program, alone.VsAlone, back.VsBackToBack)
		}
	}
	var names []string
	for _, c := range res.Checks {
		names = append(names, c.Name)
	}
	want := []string{
		"veth path: inline 5 noop (counters on) / final program alone",
		"veth path: inline 5 noop (counters on) / back-to-back",
		"veth path: inline 5 udp (counters on) / final program alone",
		"veth path: inline 5 udp (counters on) / back-to-back",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("checks %q, want %q", names, want)
	}
	for _, line := range []string{"| back-to-back 5 udp | 5 |", "| tailcall 5 noop | 5 |", "| inline 5 udp (counters on) | 5 |"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, b.String())
		}
	}
}

// TestRunVethSkips runs one program with a count that has no back-to-back
// program and is too long for tail calls: both rows are shown skipped
// with the reason, and no check against back-to-back is made.
func TestRunVethSkips(t *testing.T) {
	testutil.RequireRoot(t)
	res, err := RunVeth(context.Background(), &VethOptions{Count: 40, Programs: []string{ProgramNoop}, Mechanisms: []dispatcher.Mechanism{dispatcher.Inline}, Rounds: 1, Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, row := range res.Rows {
		kinds = append(kinds, row.Kind)
		if skip := row.Kind == MonolithicInline || row.Kind == TailCall; skip != (row.Skipped != "") || row.VsBackToBack != 0 {
			t.Errorf("%s: skipped %q, × back-to-back %v", vethLabel(row), row.Skipped, row.VsBackToBack)
		}
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]Kind{Plain, MonolithicInline, TailCall, Inline}) {
		t.Errorf("rows %v", kinds)
	}
	if len(res.Checks) != 1 || !strings.HasSuffix(res.Checks[0].Name, "/ final program alone") {
		t.Errorf("checks %+v, want the inline chain against the final program alone only", res.Checks)
	}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| back-to-back 41 noop | 41 | skipped: no back-to-back program of 40 bodies") {
		t.Errorf("table lacks the skipped back-to-back row:\n%s", b.String())
	}
}

func TestVethOptions(t *testing.T) {
	for _, o := range []VethOptions{
		{Count: dispatcher.MaxPrograms},
		{Count: -1},
		{Rounds: -1},
		{Window: time.Millisecond},
		{Mechanisms: []dispatcher.Mechanism{dispatcher.Freplace}},
		{Programs: []string{}},
		{Programs: []string{"counter"}},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	o, err := (&VethOptions{}).withDefaults()
	if err != nil || o.Count != DefaultVethCount || o.Rounds != DefaultRounds || o.Window != DefaultVethWindow || len(o.Mechanisms) != 2 || fmt.Sprint(o.Programs) != "[noop udp]" {
		t.Errorf("defaults %+v, %v", o, err)
	}
	o, err = (&VethOptions{Programs: []string{ProgramUDP, ProgramUDP}}).withDefaults()
	if err != nil || fmt.Sprint(o.Programs) != "[udp]" {
		t.Errorf("udp twice: %v, %v", o.Programs, err)
	}
}
