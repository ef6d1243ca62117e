package testprogs_test

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// BenchmarkBaselines measures the baselines the dispatcher benchmarks
// compare against, in ns per packet under BPF_PROG_TEST_RUN (1e6 repeats
// per b.N): the plain no-op program, and the monolithic programs running
// 1..64 no-ops as subprogram calls and inlined.
func BenchmarkBaselines(b *testing.B) {
	testutil.RequireRoot(b)
	pkt := testutil.UDPPacket(v4src, v4dst, make([]byte, 64))
	names := []string{testprogs.Noop}
	for _, n := range []int{1, 4, 16, 64} {
		names = append(names, testprogs.Monolithic(n, false), testprogs.Monolithic(n, true))
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			spec, err := testprogs.Spec(name)
			if err != nil {
				b.Fatal(err)
			}
			prog, err := ebpf.NewProgram(spec.Programs[testprogs.Program(name)])
			if err != nil {
				b.Fatal(err)
			}
			defer prog.Close()
			const repeat = 1_000_000
			var total time.Duration
			for b.Loop() {
				ret, d, err := prog.Benchmark(pkt, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				if ret != 2 {
					b.Fatalf("verdict %d", ret)
				}
				total += d
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/pkt")
		})
	}
}
