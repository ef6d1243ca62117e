package testutil

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

// AddNeighbours gives each end of the pair permanent neighbour entries for
// the other end's IPv4 and IPv6 addresses. No ARP or neighbour discovery
// then goes through an XDP program on either end: what a test sends is
// what the program sees, and traffic the program drops stays sendable.
func AddNeighbours(tb testing.TB, pair *VethPair) {
	tb.Helper()
	AddNeighbour(tb, pair.A, pair.B)
	AddNeighbour(tb, pair.B, pair.A)
}

// AddNeighbour gives end from permanent neighbour entries for to's
// addresses (one direction of AddNeighbours).
func AddNeighbour(tb testing.TB, from, to VethEnd) {
	tb.Helper()
	InNetNS(tb, from.NS, func() error {
		for _, ip := range []netip.Addr{to.Addr4(), to.Addr6()} {
			err := netlink.NeighSet(&netlink.Neigh{
				LinkIndex:    from.Index,
				IP:           ip.AsSlice(),
				HardwareAddr: to.MAC,
				State:        netlink.NUD_PERMANENT,
			})
			if err != nil {
				return fmt.Errorf("neighbour %s on %s: %w", ip, from.Name, err)
			}
		}
		return nil
	})
}
