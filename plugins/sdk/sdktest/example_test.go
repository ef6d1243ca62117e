package sdktest_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

// Test packets are Ethernet frames with valid lengths and checksums, over
// IPv4 or IPv6 after the addresses.
func ExampleUDP() {
	v4 := sdktest.UDP(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("198.51.100.2:53"), []byte("hello"))
	v6 := sdktest.UDP(netip.MustParseAddrPort("[2001:db8::1]:1234"), netip.MustParseAddrPort("[2001:db8::2]:53"), []byte("hello"))
	fmt.Println(len(v4), binary.BigEndian.Uint16(v4[12:]) == sdktest.EtherTypeIPv4)
	fmt.Println(len(v6), binary.BigEndian.Uint16(v6[12:]) == sdktest.EtherTypeIPv6)
	// Output:
	// 47 true
	// 67 true
}

func ExampleTCP() {
	syn := sdktest.TCP(netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("198.51.100.2:443"),
		sdktest.TCPHeader{Seq: 1, Flags: sdktest.SYN}, nil)
	tagged := sdktest.VLAN(syn, 100) // one 802.1Q tag, VLAN 100
	fmt.Println(len(syn), len(tagged))
	// Output:
	// 54 58
}

// A unit test of a plugin's BPF semantics: the object loaded standalone,
// the plugin configured on its maps, packets run through the program.
func ExampleLoadPlugin() {
	var t *testing.T // the test's

	obj := sdktest.LoadPlugin(t, blocklist.New()) // skips without root
	p := blocklist.New()
	if err := obj.Configure(p, `{"prefixes": ["192.0.2.0/24"]}`); err != nil {
		t.Fatal(err)
	}
	pkt := sdktest.UDP(netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.2:53"), nil)
	if v := obj.Run(t, pkt); v != sdk.Drop {
		t.Errorf("listed source: verdict %s, want drop", v)
	}
}

// A plugin's tests in its own package reach the programs and maps through
// the struct bpf2go generates (here the blocklist's, in package blocklist):
//
//	var objs blocklistObjects
//	maps := sdktest.LoadObjects(t, loadBlocklistObjects, &objs)
//	p := New()
//	err := p.Configure(ctx, sdktest.Settings(`{"prefixes": ["192.0.2.0/24"]}`), maps, nil)
//	verdict := sdktest.Run(t, objs.XdpBlocklist, pkt)
func ExampleLoadObjects() {}

// A test of the plugin as a process, as the daemon runs it: built with go
// build, started through plugins/host, its program loaded on maps pinned in
// a private bpffs, configured with its settings.
func ExampleStart() {
	var t *testing.T // the test's

	bin := sdktest.Build(t, "./cmd/xdpchain-blocklist") // or $XDPCHAIN_PLUGIN_DIR/xdpchain-blocklist
	p := sdktest.Start(t, sdktest.ProcessOptions{
		Command:  bin,
		Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}},
	})
	pkt := sdktest.UDP(netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.2:53"), nil)
	if v := p.Run(t, pkt); v != sdk.Drop {
		t.Errorf("verdict %s, want drop", v)
	}
	// New settings, as on SIGHUP: the plugin writes its maps again.
	if err := p.Configure(map[string]any{"prefixes": []string{}}); err != nil {
		t.Fatal(err)
	}
	hits, _ := p.Maps().Map(blocklist.MapHits) // the same kernel map the plugin writes
	_ = hits
}

func ExampleRequireRoot() {
	var t *testing.T // the test's

	sdktest.RequireRoot(t) // skips unless root
}
