package bench

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// vmRepeat is BenchmarkTable's repeat count inside a harness VM, where TCG
// makes every run 3–30 times slower.
const vmRepeat = 200_000

var (
	tableRepeat = flag.Int("xdpchain.repeat", 0, "BenchmarkTable: BPF_PROG_TEST_RUN repeat count (default 1000000, 200000 in a harness VM)")
	tableLibXDP = flag.String("xdpchain.libxdp", libxdpObject, "BenchmarkTable: libxdp's xdp-dispatcher.o")
)

// BenchmarkTable runs the whole benchmark once, as `xdpchain bench
// --mechanism linked,inline,freplace --libxdp ...` does, and prints its
// table (both test programs, the default counts 0, 1, 4, 10, 16, 64): the
// side-by-side comparison with libxdp (docs/benchmarks.md) when run in the VMs, e.g.
//
//	go run ./internal/vmtest/cmd/vmtest -pkgs ./internal/bench -bench Table
//
// libxdp's rows need its object in the guest at -xdpchain.libxdp (default
// Debian's path); without it they are left out, with a note. Each
// dispatcher row is also reported as a metric, its ratio to the plain
// program ("x-plain/linked-4-udp-off"), and so is each mechanism's swap
// time ("ms-swap/linked").
func BenchmarkTable(b *testing.B) {
	testutil.RequireRoot(b)
	vmtest.LogWhere(b)
	o := &Options{
		Repeat:     *tableRepeat,
		Mechanisms: []dispatcher.Mechanism{dispatcher.Linked, dispatcher.Inline, dispatcher.Freplace},
	}
	if o.Repeat == 0 && vmtest.InVM() {
		o.Repeat = vmRepeat
	}
	if _, err := os.Stat(*tableLibXDP); err == nil {
		o.LibXDP = *tableLibXDP
	} else {
		b.Logf("no libxdp rows: %v", err)
	}
	var res *Result
	for b.Loop() {
		var err error
		res, err = Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
	}
	var sb strings.Builder
	if err := res.WriteMarkdown(&sb); err != nil {
		b.Fatal(err)
	}
	os.Stdout.WriteString("\n" + sb.String() + "\n")
	for _, row := range res.Rows {
		if row.VsPlain == 0 || row.Kind == Plain {
			continue
		}
		name := strings.NewReplacer(" (counters ", "-", ")", "", " ", "-").Replace(row.Label())
		b.ReportMetric(row.VsPlain, "x-plain/"+name)
	}
	for _, st := range res.Swaps {
		if st.Skipped == "" {
			b.ReportMetric(st.Median, "ms-swap/"+string(st.Mechanism))
		}
	}
}
