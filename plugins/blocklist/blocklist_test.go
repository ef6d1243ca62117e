package blocklist

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/plugins/internal/plugintest"
	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

// standalone loads the object as a plain XDP program with its own maps and
// returns it with the plugin's view of the maps.
func standalone(tb testing.TB) (*blocklistObjects, *sdk.Maps) {
	tb.Helper()
	var objs blocklistObjects
	maps := sdktest.LoadObjects(tb, loadBlocklistObjects, &objs)
	return &objs, maps
}

func TestBlocklistProgram(t *testing.T) {
	objs, maps := standalone(t)
	p := New()
	if err := plugintest.Configure(p, maps, `{"prefixes": ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "192.0.2.99/24"]}`); err != nil {
		t.Fatal(err)
	}

	arp := sdktest.Ethernet(sdktest.EtherTypeARP, make([]byte, 28))
	truncated := plugintest.UDPFrom("192.0.2.1")[:20]
	for _, tc := range []struct {
		name string
		pkt  []byte
		want sdk.Verdict
	}{
		{"v4 in /24", plugintest.UDPFrom("192.0.2.1"), sdk.Drop},
		{"v4 in /24 again", plugintest.UDPFrom("192.0.2.254"), sdk.Drop},
		{"v4 next to /24", plugintest.UDPFrom("192.0.3.1"), sdk.Pass},
		{"v4 bare address", plugintest.UDPFrom("198.51.100.7"), sdk.Drop},
		{"v4 next to bare address", plugintest.UDPFrom("198.51.100.8"), sdk.Pass},
		{"v6 in /32", plugintest.UDPFrom("2001:db8:1::5"), sdk.Drop},
		{"v6 outside", plugintest.UDPFrom("2001:db9::1"), sdk.Pass},
		{"v4 vlan tagged", sdktest.VLAN(plugintest.UDPFrom("192.0.2.7"), 7), sdk.Drop},
		{"arp", arp, sdk.Pass},
		{"truncated ip header", truncated, sdk.Pass},
	} {
		if got := sdktest.Run(t, objs.XdpBlocklist, tc.pkt); got != tc.want {
			t.Errorf("%s: verdict %s, want %s", tc.name, got, tc.want)
		}
	}

	hits, err := p.Hits()
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]uint64{
		netip.MustParsePrefix("192.0.2.0/24"):    3,
		netip.MustParsePrefix("198.51.100.7/32"): 1,
		netip.MustParsePrefix("2001:db8::/32"):   1,
	}
	if len(hits) != len(want) {
		t.Fatalf("hits %v, want %v", hits, want)
	}
	for pr, n := range want {
		if hits[pr] != n {
			t.Errorf("hits[%s] = %d, want %d (all: %v)", pr, hits[pr], n, hits)
		}
	}
}

func TestBlocklistChangesAtRunTime(t *testing.T) {
	objs, maps := standalone(t)
	progInfo, err := objs.XdpBlocklist.Info()
	if err != nil {
		t.Fatal(err)
	}
	progID, _ := progInfo.ID()

	p := New()
	if err := plugintest.Configure(p, maps, `{"prefixes": ["192.0.2.0/24", "2001:db8::/32"]}`); err != nil {
		t.Fatal(err)
	}
	sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("192.0.2.1"))
	sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("2001:db8::1"))
	sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("2001:db8::2"))

	// New set: one prefix stays, one goes, one comes.
	if err := plugintest.Configure(p, maps, `{"prefixes": ["2001:db8::/32", "203.0.113.0/24"]}`); err != nil {
		t.Fatal(err)
	}
	if got := sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("192.0.2.1")); got != sdk.Pass {
		t.Errorf("removed prefix: verdict %s, want pass", got)
	}
	if got := sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("203.0.113.9")); got != sdk.Drop {
		t.Errorf("added prefix: verdict %s, want drop", got)
	}
	hits, err := p.Hits()
	if err != nil {
		t.Fatal(err)
	}
	if n := hits[netip.MustParsePrefix("2001:db8::/32")]; n != 2 {
		t.Errorf("kept prefix lost its count: %d, want 2", n)
	}
	if n := hits[netip.MustParsePrefix("203.0.113.0/24")]; n != 1 {
		t.Errorf("new prefix count %d, want 1", n)
	}
	if _, ok := hits[netip.MustParsePrefix("192.0.2.0/24")]; ok {
		t.Errorf("removed prefix still counted: %v", hits)
	}

	// The program was never reloaded.
	if info, _ := objs.XdpBlocklist.Info(); info != nil {
		if id, _ := info.ID(); id != progID {
			t.Errorf("program id changed from %d to %d", progID, id)
		}
	}

	// A bad setting changes nothing.
	for _, bad := range []string{
		`{"prefixes": ["203.0.113.0/24", "not-a-prefix"]}`,
		`{"prefixes": ["fe80::1%eth0/64"]}`,
		`{"prefix": ["192.0.2.0/24"]}`,
		`{"prefixes": "192.0.2.0/24"}`,
	} {
		if err := plugintest.Configure(p, maps, bad); err == nil {
			t.Errorf("settings %s accepted", bad)
		}
	}
	if got := sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("203.0.113.9")); got != sdk.Drop {
		t.Errorf("after refused settings: verdict %s, want drop", got)
	}
	if got := sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("192.0.2.1")); got != sdk.Pass {
		t.Errorf("after refused settings: verdict %s, want pass", got)
	}

	// A new plugin instance (a restarted process) finds the counters.
	p2 := New()
	if err := plugintest.Configure(p2, maps, `{"prefixes": ["2001:db8::/32", "203.0.113.0/24", "192.0.2.0/24"]}`); err != nil {
		t.Fatal(err)
	}
	hits, err = p2.Hits()
	if err != nil {
		t.Fatal(err)
	}
	if hits[netip.MustParsePrefix("2001:db8::/32")] != 2 || hits[netip.MustParsePrefix("203.0.113.0/24")] != 2 ||
		hits[netip.MustParsePrefix("192.0.2.0/24")] != 0 {
		t.Errorf("after restart: hits %v", hits)
	}

	// Empty set: everything passes.
	if err := plugintest.Configure(p2, maps, `{}`); err != nil {
		t.Fatal(err)
	}
	if got := sdktest.Run(t, objs.XdpBlocklist, plugintest.UDPFrom("2001:db8::1")); got != sdk.Pass {
		t.Errorf("empty set: verdict %s, want pass", got)
	}
}

func TestBlocklistCapacity(t *testing.T) {
	_, maps := standalone(t)
	var prefixes []string
	for i := range MaxPrefixes {
		prefixes = append(prefixes, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String()+"/24")
	}
	p := New()
	if err := p.Configure(context.Background(), settingsOf(t, prefixes), maps, nil); err != nil {
		t.Fatalf("%d prefixes: %v", len(prefixes), err)
	}
	err := p.Configure(context.Background(), settingsOf(t, append(prefixes, "2001:db8::/32")), maps, nil)
	if err == nil {
		t.Fatalf("%d prefixes accepted", len(prefixes)+1)
	}
}

func settingsOf(t testing.TB, prefixes []string) sdk.Settings {
	t.Helper()
	raw := []byte(`{"prefixes":[`)
	for i, p := range prefixes {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, '"')
		raw = append(raw, p...)
		raw = append(raw, '"')
	}
	return sdk.SettingsFromJSON(append(raw, "]}"...))
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"192.0.2.77/24", "192.0.2.0/24", "2001:DB8::1", "::ffff:192.0.2.1/128"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.0/24", "2001:db8::1/128", "::ffff:192.0.2.1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("got[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := ParsePrefixes([]string{"300.1.1.1/8"}); err == nil {
		t.Error("bad prefix accepted")
	}
}

func TestHealth(t *testing.T) {
	p := New()
	if err := p.Health(context.Background()); err != nil {
		t.Errorf("unconfigured plugin unhealthy: %v", err)
	}
	_, maps := standalone(t)
	if err := plugintest.Configure(p, maps, `{"prefixes": []}`); err != nil {
		t.Fatal(err)
	}
	if err := p.Health(context.Background()); err != nil {
		t.Errorf("configured plugin unhealthy: %v", err)
	}

}

// BenchmarkBlocklist measures the program alone (BPF_PROG_TEST_RUN) with
// 1000 prefixes per family, for a listed and an unlisted source.
func BenchmarkBlocklist(b *testing.B) {
	objs, maps := standalone(b)
	var prefixes []string
	for i := range 500 {
		prefixes = append(prefixes, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String()+"/24")
		prefixes = append(prefixes, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}).String()+"/48")
	}
	if err := New().Configure(context.Background(), settingsOf(b, prefixes), maps, nil); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, src string }{
		{"v4-listed", "10.1.2.3"}, {"v4-unlisted", "192.0.2.1"},
		{"v6-listed", "2001:db8:1:2::1"}, {"v6-unlisted", "2001:db9::1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			plugintest.Benchmark(b, objs.XdpBlocklist, plugintest.UDPFrom(tc.src))
		})
	}
}

// TestValidate: Validate refuses what Configure would, touching no map (it
// has none).
func TestValidate(t *testing.T) {
	p := New()
	plugintest.CheckValidate(t, p, map[string]bool{
		`{"prefixes": ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]}`: true,
		`{}`: true,
		`{"prefixes": ["192.0.2.0/24", "300.0.0.0/8"]}`: false,
		`{"prefixes": ["fe80::1%eth0"]}`:                false,
		`{"prefix": ["192.0.2.0/24"]}`:                  false,
	}, func() error {
		if p.Prefixes() != nil {
			return fmt.Errorf("prefixes %v", p.Prefixes())
		}
		return nil
	})
}
