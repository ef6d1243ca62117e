package testutil

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

// permanentNeighbours returns the permanent neighbour entries of an end,
// address to MAC.
func permanentNeighbours(t *testing.T, e VethEnd) map[netip.Addr]string {
	t.Helper()
	h, err := netlink.NewHandleAt(e.NS.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	out := map[netip.Addr]string{}
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		list, err := nlretry.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(e.Index, family) })
		if err != nil {
			t.Fatalf("neighbours of %s: %v", e.Name, err)
		}
		for _, n := range list {
			if n.State&netlink.NUD_PERMANENT == 0 {
				continue
			}
			a, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				t.Fatalf("neighbour address %v", n.IP)
			}
			out[a.Unmap()] = n.HardwareAddr.String()
		}
	}
	return out
}

func TestAddNeighbours(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)
	if got := permanentNeighbours(t, p.A); len(got) != 0 {
		t.Fatalf("new end A already has permanent neighbours: %v", got)
	}

	AddNeighbour(t, p.A, p.B)
	if got := permanentNeighbours(t, p.B); len(got) != 0 {
		t.Errorf("AddNeighbour(A, B) gave B neighbours: %v", got)
	}

	AddNeighbours(t, p)
	for _, c := range []struct{ from, to VethEnd }{{p.A, p.B}, {p.B, p.A}} {
		got := permanentNeighbours(t, c.from)
		if len(got) != 2 {
			t.Errorf("%s: permanent neighbours %v, want the 2 addresses of %s", c.from.Name, got, c.to.Name)
		}
		for _, a := range []netip.Addr{c.to.Addr4(), c.to.Addr6()} {
			if mac := got[a]; mac != c.to.MAC.String() {
				t.Errorf("%s: neighbour %s has MAC %q, want %s", c.from.Name, a, mac, c.to.MAC)
			}
		}
	}
	if bytes.Equal(p.A.MAC, p.B.MAC) {
		t.Fatalf("both ends have MAC %s: the test cannot tell them apart", p.A.MAC)
	}
}
