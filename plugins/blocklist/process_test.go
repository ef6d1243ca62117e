package blocklist

import (
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/plugins/internal/plugintest"
	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

// TestProcess runs the plugin's binary as the daemon would (sdktest.Start):
// the settings reach the maps the program uses, new settings apply without
// a reload, and the hits are counted in the maps the plugin was given.
func TestProcess(t *testing.T) {
	bin := sdktest.Build(t, "./cmd/xdpchain-blocklist")
	p := sdktest.Start(t, sdktest.ProcessOptions{
		Command:  bin,
		Settings: map[string]any{"prefixes": []string{"192.0.2.0/24", "2001:db8::/32"}},
	})
	for src, want := range map[string]sdk.Verdict{"192.0.2.1": sdk.Drop, "192.0.3.1": sdk.Pass, "2001:db8::7": sdk.Drop, "2001:db9::7": sdk.Pass} {
		if got := p.Run(t, plugintest.UDPFrom(src)); got != want {
			t.Errorf("%s: verdict %s, want %s", src, got, want)
		}
	}
	if err := p.Configure(map[string]any{"prefixes": []string{"2001:db8::/32", "198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
	if got := p.Run(t, plugintest.UDPFrom("198.51.100.9")); got != sdk.Drop {
		t.Errorf("added prefix: verdict %s, want drop", got)
	}
	if got := p.Run(t, plugintest.UDPFrom("192.0.2.1")); got != sdk.Pass {
		t.Errorf("removed prefix: verdict %s, want pass", got)
	}
	v4, _ := p.Maps().Map(MapV4)
	v6, _ := p.Maps().Map(MapV6)
	hitsMap, _ := p.Maps().Map(MapHits)
	hits, err := ReadHits(v4, v6, hitsMap)
	if err != nil {
		t.Fatal(err)
	}
	if hits[netip.MustParsePrefix("2001:db8::/32")] != 1 || hits[netip.MustParsePrefix("198.51.100.0/24")] != 1 || len(hits) != 2 {
		t.Errorf("hits %v", hits)
	}
}
