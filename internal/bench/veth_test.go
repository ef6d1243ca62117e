package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestRunVeth runs the veth path once, short: every configuration moved
// frames (a loop whose frames were lost fails the run), every dispatcher
// ran its chain as configured (RunVeth checks the counters), and the table
// names them. It asserts no rate.
func TestRunVeth(t *testing.T) {
	testutil.RequireRoot(t)
	res, err := RunVeth(context.Background(), &VethOptions{Programs: 2, Rounds: 2, Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 4 {
		t.Fatalf("%d rows, want the final program alone, the tail-call chain, linked and inline: %+v", len(res.Rows), res.Rows)
	}
	for i, want := range []Kind{Plain, TailCall, Linked, Inline} {
		row := res.Rows[i]
		if row.Kind != want || len(row.Mpps) != 2 || row.Median <= 0 || row.VsAlone <= 0 {
			t.Errorf("row %d: %+v, want %s measured in 2 rounds", i, row, want)
		}
	}
	if res.Rows[0].VsAlone != 1 {
		t.Errorf("the final program alone is %v × itself", res.Rows[0].VsAlone)
	}
	if len(res.Checks) != 1 || !strings.Contains(res.Checks[0].Name, "inline 3") {
		t.Errorf("checks %+v, want the inline chain's", res.Checks)
	}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| final program alone | 1 |", "| tailcall 3 | 3 |", "| linked 3 (counters on) | 3 |", "| inline 3 (counters on) | 3 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestVethOptions(t *testing.T) {
	for _, o := range []VethOptions{
		{Programs: dispatcher.MaxPrograms},
		{Programs: -1},
		{Rounds: -1},
		{Window: time.Millisecond},
		{Mechanisms: []dispatcher.Mechanism{dispatcher.Freplace}},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	o, err := (&VethOptions{}).withDefaults()
	if err != nil || o.Programs != DefaultVethPrograms || o.Rounds != DefaultRounds || o.Window != DefaultVethWindow || len(o.Mechanisms) != 2 {
		t.Errorf("defaults %+v, %v", o, err)
	}
}
