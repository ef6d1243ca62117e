package ratelimit

import (
	"testing"

	"github.com/xdpchain/xdpchain/plugins/internal/plugintest"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

// TestProcessUnprivileged runs the plugin's binary as the daemon would, as
// nobody (by number: a test VM has no user database), so that it writes
// its config map through the daemon's broker: the burst is in force, and a
// new rate applies to the same buckets.
func TestProcessUnprivileged(t *testing.T) {
	bin := sdktest.Build(t, "./cmd/xdpchain-ratelimit")
	p := sdktest.Start(t, sdktest.ProcessOptions{
		Command:  bin,
		User:     "65534:65534",
		Settings: map[string]any{"rate_pps": 1, "burst": 3},
	})
	pkt := plugintest.UDPFrom("192.0.2.1")
	if got := send(t, p.Object.Program, pkt, 10); got != 3 {
		t.Errorf("%d of 10 passed, want the burst of 3", got)
	}
	if err := p.Configure(map[string]any{"rate_pps": 0}); err == nil {
		t.Error("rate 0 accepted")
	}
	// Another source still has its full bucket under the old settings.
	if got := send(t, p.Object.Program, plugintest.UDPFrom("2001:db8::1"), 5); got != 3 {
		t.Errorf("second source: %d of 5 passed, want 3", got)
	}
	stats, err := p.Maps().Map(MapStats)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadStats(stats)
	if err != nil {
		t.Fatal(err)
	}
	if st.Passed != 6 || st.Dropped != 9 {
		t.Errorf("stats %+v, want 6 passed, 9 dropped", st)
	}
}
