package portcount

import (
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

func TestCounts(t *testing.T) {
	obj := sdktest.LoadPlugin(t, New())
	p := New()
	if err := obj.Configure(p, `{"ports": [53, 123]}`); err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("192.0.2.1:40000")
	for _, dst := range []string{"192.0.2.2:53", "[::ffff:192.0.2.2]:53", "192.0.2.2:54"} {
		if v := obj.Run(t, sdktest.UDP(src, netip.MustParseAddrPort(dst), nil)); v != sdk.Pass {
			t.Errorf("verdict %s", v)
		}
	}
	v6 := sdktest.UDP(netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:123"), nil)
	obj.Run(t, v6)
	m, err := CountsMap(obj.Maps)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Counts(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 2 || c[53] != 2 || c[123] != 1 {
		t.Errorf("counts %v, want 53:2 123:1", c)
	}
	if err := p.Validate(t.Context(), sdktest.Settings(`{"ports": [70000]}`)); err == nil {
		t.Error("port 70000 accepted")
	}
}
