package dispatcher_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/bench"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

var (
	benchRepeat = flag.Int("xdpchain.repeat", bench.DefaultRepeat, "BPF_PROG_TEST_RUN repeat count per measurement")
	benchLibXDP = flag.String("xdpchain.libxdp", "/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o", "libxdp's xdp-dispatcher.o for the libxdp rows (skipped when absent)")
)

// BenchmarkDispatcher measures ns per packet (BPF_PROG_TEST_RUN, a 64-byte
// UDP packet) of every configuration of internal/bench, all set up at once
// in one network namespace: the plain no-op program, the monolithic
// programs, the dispatcher with 0..64 no-op programs with counters on and
// off for each mechanism, and libxdp's dispatcher. Each sub-benchmark
// reports the median of its iterations as "ns/pkt"; ns/op is the time of
// one whole BPF_PROG_TEST_RUN call. Rows that need BPF trampolines skip
// with the probed reason where the kernel refuses them.
//
//	go test -run '^$' -bench Dispatcher -benchtime 5x ./dispatcher/
//
// `xdpchain bench` prints the same configurations as a table with ratios.
func BenchmarkDispatcher(b *testing.B) {
	testutil.RequireRoot(b)
	o := &bench.Options{
		Repeat:     *benchRepeat,
		Mechanisms: []dispatcher.Mechanism{dispatcher.Linked, dispatcher.Freplace},
	}
	if _, err := os.Stat(*benchLibXDP); err == nil {
		o.LibXDP = *benchLibXDP
	}
	s, err := bench.NewSuite(o)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	}()
	for i, row := range s.Rows() {
		b.Run(benchName(row), func(b *testing.B) {
			if row.Skipped != "" {
				b.Skip(row.Skipped)
			}
			var ns []float64
			for b.Loop() {
				sample, err := s.Measure(i, 0)
				if err != nil {
					b.Fatal(err)
				}
				ns = append(ns, sample.NsPerPacket)
			}
			b.ReportMetric(bench.Median(ns), "ns/pkt")
		})
	}
	if err := s.Check(); err != nil {
		b.Error(err)
	}
}

// benchName names a sub-benchmark: kind=linked/n=16/counters=on.
func benchName(r bench.Row) string {
	parts := []string{"kind=" + string(r.Kind), fmt.Sprintf("n=%d", r.Programs)}
	if r.Counters != "" {
		parts = append(parts, "counters="+string(r.Counters))
	}
	return strings.Join(parts, "/")
}

// BenchmarkRootWatch measures what the daemon's drift watch costs per
// interface: Running (one BPF_OBJ_GET_INFO_BY_FD on the held link, the
// root watch every 250 ms) against opening the root (Open, what a full
// check does before planning).
func BenchmarkRootWatch(b *testing.B) {
	testutil.RequireRoot(b)
	send, recv := testutil.NewNetNS(b), testutil.NewNetNS(b)
	pair := testutil.NewVethPair(b, send, recv, nil)
	opts := &dispatcher.Options{NetNS: recv.Name, BPFFS: testutil.PrivateBPFFS(b), StateDir: b.TempDir()}
	r, err := dispatcher.Attach(pair.B.Name, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { r.Detach(); r.Close() }()
	if _, err := r.Update(func(s *dispatcher.Spec) error { return nil }); err != nil {
		b.Fatal(err)
	}
	b.Run("Running", func(b *testing.B) {
		for b.Loop() {
			if attached, current, err := r.Running(); err != nil || !attached || !current {
				b.Fatalf("Running: %v %v %v", attached, current, err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			o, err := dispatcher.Open(pair.B.Name, opts)
			if err != nil {
				b.Fatal(err)
			}
			o.Close()
		}
	})
}
