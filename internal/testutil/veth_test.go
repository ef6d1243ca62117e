package testutil

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

func TestNewVethPair(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)

	want := VethPair{
		A: VethEnd{NS: nsA, Name: "veth0", IPv4: netip.MustParsePrefix("10.99.0.1/24"), IPv6: netip.MustParsePrefix("2001:db8:99:0::1/64")},
		B: VethEnd{NS: nsB, Name: "veth1", IPv4: netip.MustParsePrefix("10.99.0.2/24"), IPv6: netip.MustParsePrefix("2001:db8:99:0::2/64")},
	}
	for _, c := range []struct{ got, want VethEnd }{{p.A, want.A}, {p.B, want.B}} {
		got, want := c.got, c.want
		if got.NS != want.NS || got.Name != want.Name || got.IPv4 != want.IPv4 || got.IPv6 != want.IPv6 {
			t.Errorf("end %+v, want %+v", got, want)
		}
		checkEnd(t, got)
	}

	// A second pair between the same namespaces gets the next defaults.
	p2 := NewVethPair(t, nsA, nsB, nil)
	if p2.A.Name != "veth2" || p2.B.Name != "veth3" || p2.A.Addr4() != netip.MustParseAddr("10.99.1.1") {
		t.Errorf("second pair: %+v / %+v", p2.A, p2.B)
	}

	// Explicit options, both ends in one namespace.
	p3 := NewVethPair(t, nsA, nsA, &VethOptions{
		NameA: "left", NameB: "right", MTU: 9000,
		IPv4A: netip.MustParsePrefix("192.0.2.1/24"), IPv4B: netip.MustParsePrefix("192.0.2.2/24"),
		IPv6A: netip.MustParsePrefix("2001:db8:1::1/64"), IPv6B: netip.MustParsePrefix("2001:db8:1::2/64"),
	})
	checkEnd(t, p3.A)
	checkEnd(t, p3.B)
	h, err := netlink.NewHandleAt(nsA.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{"left", "right"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MTU != 9000 {
			t.Errorf("%s: MTU %d, want 9000", name, l.Attrs().MTU)
		}
	}
}

// checkEnd verifies an end against the kernel: index, MAC, up, addresses
// (the IPv6 one not tentative).
func checkEnd(t *testing.T, e VethEnd) {
	t.Helper()
	h, err := netlink.NewHandleAt(e.NS.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(e.Name)
	if err != nil {
		t.Fatalf("%s in %s: %v", e.Name, e.NS.Name, err)
	}
	if l.Type() != "veth" {
		t.Errorf("%s: type %s", e.Name, l.Type())
	}
	if l.Attrs().Index != e.Index || l.Attrs().HardwareAddr.String() != e.MAC.String() {
		t.Errorf("%s: index %d mac %s, want %d %s", e.Name, l.Attrs().Index, l.Attrs().HardwareAddr, e.Index, e.MAC)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s is not up", e.Name)
	}
	addrs, err := nlretry.Dump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		t.Fatal(err)
	}
	found := map[netip.Prefix]bool{}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), ones)
		found[p] = true
		if p == e.IPv6 && a.Flags&unix.IFA_F_TENTATIVE != 0 {
			t.Errorf("%s: %s is tentative", e.Name, p)
		}
	}
	for _, p := range []netip.Prefix{e.IPv4, e.IPv6} {
		if !found[p] {
			t.Errorf("%s: address %s missing (have %v)", e.Name, p, addrs)
		}
	}
}

func TestNewVethPairRemoved(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	t.Run("pair", func(t *testing.T) {
		NewVethPair(t, nsA, nsB, nil)
	})
	for _, ns := range []*NetNS{nsA, nsB} {
		h, err := netlink.NewHandleAt(ns.Handle())
		if err != nil {
			t.Fatal(err)
		}
		links, err := nlretry.Dump(h.LinkList)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 {
			t.Errorf("%s still has %d links after the test", ns.Name, len(links))
		}
	}
}
