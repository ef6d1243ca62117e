package plugintest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// UDPFrom returns an Ethernet frame with a UDP datagram (source port 1234,
// payload "hello") from src to port 53 of 10.0.0.1, or of fd00::1 when src
// is an IPv6 address.
func UDPFrom(src string) []byte {
	a := netip.MustParseAddr(src)
	dst := netip.MustParseAddr("10.0.0.1")
	if a.Is6() {
		dst = netip.MustParseAddr("fd00::1")
	}
	return testutil.UDPPacket(netip.AddrPortFrom(a, 1234), netip.AddrPortFrom(dst, 53), []byte("hello"))
}

// Configure applies settings, a JSON object as in the config's
// [plugin.settings], to p with maps, as the daemon's Configure would.
func Configure(p sdk.Plugin, maps *sdk.Maps, settings string) error {
	return p.Configure(context.Background(), sdk.SettingsFromJSON([]byte(settings)), maps, nil)
}

// CheckValidate checks that p's Validate accepts exactly the settings
// marked true (JSON objects, as Configure takes them), and that afterwards
// untouched reports p unconfigured: Validate applies nothing.
func CheckValidate(t *testing.T, p sdk.Validator, cases map[string]bool, untouched func() error) {
	t.Helper()
	for settings, ok := range cases {
		err := p.Validate(context.Background(), sdk.SettingsFromJSON([]byte(settings)))
		if (err == nil) != ok {
			t.Errorf("validating %s: %v", settings, err)
		}
	}
	if err := untouched(); err != nil {
		t.Errorf("Validate applied settings: %v", err)
	}
}

// Benchmark runs pkt through prog b.N times with BPF_PROG_TEST_RUN and
// reports the kernel's time per packet (ns/pkt).
func Benchmark(b *testing.B, prog *ebpf.Program, pkt []byte) {
	b.Helper()
	_, d, err := prog.Benchmark(pkt, b.N, b.ResetTimer)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(d.Nanoseconds()), "ns/pkt")
}
