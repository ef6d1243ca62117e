package plugintest

import (
	"io"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// XDP verdicts the example programs return.
const (
	XDPDrop uint32 = 1
	XDPPass uint32 = 2
)

// Load loads a plugin's objects into objs with load (a bpf2go
// loadXObjects function), closes them when the test ends, and returns the
// plugin's view of the maps that maps names (map name as the plugin knows
// it to the loaded map; called after loading). It skips without root.
func Load(tb testing.TB, name string, load func(obj any, opts *ebpf.CollectionOptions) error, objs io.Closer, maps func() map[string]*ebpf.Map) *sdk.Maps {
	tb.Helper()
	testutil.RequireRoot(tb)
	if err := load(objs, nil); err != nil {
		tb.Fatalf("loading %s: %v", name, err)
	}
	tb.Cleanup(func() { objs.Close() })
	m, err := sdk.NewMaps(maps())
	if err != nil {
		tb.Fatalf("describing the maps of %s: %v", name, err)
	}
	return m
}

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
