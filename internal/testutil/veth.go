package testutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

// VethOptions configures NewVethPair. Zero fields get defaults derived from
// the first pair index i whose names are free in both namespaces:
// names veth{2i} (A) and veth{2i+1} (B), 10.99.i.1/24 and 10.99.i.2/24,
// 2001:db8:99:i::1/64 and 2001:db8:99:i::2/64.
type VethOptions struct {
	NameA, NameB string
	IPv4A, IPv4B netip.Prefix
	IPv6A, IPv6B netip.Prefix
	// MTU of both ends; 0 keeps the kernel's default (1500).
	MTU int
}

// VethEnd is one end of a veth pair.
type VethEnd struct {
	NS    *NetNS
	Name  string
	Index int
	MAC   net.HardwareAddr
	IPv4  netip.Prefix
	IPv6  netip.Prefix
}

// Addr4 returns the end's IPv4 address.
func (e VethEnd) Addr4() netip.Addr { return e.IPv4.Addr() }

// Addr6 returns the end's IPv6 address.
func (e VethEnd) Addr6() netip.Addr { return e.IPv6.Addr() }

// VethPair is a veth pair between two network namespaces.
type VethPair struct {
	A, B VethEnd
}

// NewVethPair creates a veth pair with end A in nsA and end B in nsB (which
// may be the same namespace), gives each end an IPv4 and an IPv6 address
// (IPv6 without duplicate address detection, so usable at once) and sets
// both up. The pair is deleted when the test ends, if its namespaces are
// still there. opts may be nil.
func NewVethPair(tb testing.TB, nsA, nsB *NetNS, opts *VethOptions) *VethPair {
	tb.Helper()
	RequireRoot(tb)
	pair, err := createVethPair(nsA, nsB, opts)
	if err != nil {
		tb.Fatalf("creating veth pair: %v", err)
	}
	tb.Cleanup(func() {
		if err := pair.remove(); err != nil {
			tb.Errorf("removing veth pair %s/%s: %v", pair.A.Name, pair.B.Name, err)
		}
	})
	return pair
}

func createVethPair(nsA, nsB *NetNS, opts *VethOptions) (_ *VethPair, err error) {
	if nsA == nil || nsB == nil {
		return nil, errors.New("veth pairs are only created between test namespaces")
	}
	var o VethOptions
	if opts != nil {
		o = *opts
	}

	hA, err := netlink.NewHandleAt(nsA.handle)
	if err != nil {
		return nil, fmt.Errorf("opening netlink in %s: %w", nsA.Name, err)
	}
	defer hA.Close()
	hB, err := netlink.NewHandleAt(nsB.handle)
	if err != nil {
		return nil, fmt.Errorf("opening netlink in %s: %w", nsB.Name, err)
	}
	defer hB.Close()

	if err := vethDefaults(&o, hA, hB); err != nil {
		return nil, err
	}

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: o.NameA, MTU: o.MTU},
		PeerName:      o.NameB,
		PeerNamespace: netlink.NsFd(nsB.handle),
	}
	if err := hA.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("adding veth %s/%s: %w", o.NameA, o.NameB, err)
	}
	pair := &VethPair{A: VethEnd{NS: nsA, Name: o.NameA}, B: VethEnd{NS: nsB, Name: o.NameB}}
	defer func() {
		if err != nil {
			err = errors.Join(err, pair.remove())
		}
	}()

	if err := setUpEnd(&pair.A, hA, o.IPv4A, o.IPv6A, o.MTU); err != nil {
		return nil, err
	}
	if err := setUpEnd(&pair.B, hB, o.IPv4B, o.IPv6B, o.MTU); err != nil {
		return nil, err
	}
	if err := waitReady(&pair.A, hA); err != nil {
		return nil, err
	}
	if err := waitReady(&pair.B, hB); err != nil {
		return nil, err
	}
	return pair, nil
}

// readyTimeout bounds how long NewVethPair waits for a pair to come up.
const readyTimeout = 5 * time.Second

// waitReady waits until the kernel has finished bringing an end up: its
// operational state is up (set asynchronously once both ends are up) and
// IPv6 is configured on it, which shows as its link-local address. Until
// then IPv6 drops what arrives (no route) and neighbour discovery stalls.
func waitReady(e *VethEnd, h *netlink.Handle) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ready, err := endReady(e, h)
		if err != nil {
			return err
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s in %s not ready after %v", e.Name, e.NS.Name, readyTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func endReady(e *VethEnd, h *netlink.Handle) (bool, error) {
	link, err := h.LinkByName(e.Name)
	if err != nil {
		return false, fmt.Errorf("finding %s in %s: %w", e.Name, e.NS.Name, err)
	}
	if link.Attrs().OperState != netlink.OperUp {
		return false, nil
	}
	addrs, err := nlretry.Dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V6) })
	if err != nil {
		return false, fmt.Errorf("listing the addresses of %s: %w", e.Name, err)
	}
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
			return true, nil
		}
	}
	return false, nil
}

func vethDefaults(o *VethOptions, hA, hB *netlink.Handle) error {
	i := 0
	if o.NameA == "" || o.NameB == "" {
		for ; i < 256; i++ {
			if !linkExists(hA, fmt.Sprintf("veth%d", 2*i)) && !linkExists(hB, fmt.Sprintf("veth%d", 2*i+1)) {
				break
			}
		}
		if i == 256 {
			return errors.New("no free veth name")
		}
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defp := func(p *netip.Prefix, v string) {
		if !p.IsValid() {
			*p = netip.MustParsePrefix(v)
		}
	}
	def(&o.NameA, fmt.Sprintf("veth%d", 2*i))
	def(&o.NameB, fmt.Sprintf("veth%d", 2*i+1))
	defp(&o.IPv4A, fmt.Sprintf("10.99.%d.1/24", i))
	defp(&o.IPv4B, fmt.Sprintf("10.99.%d.2/24", i))
	defp(&o.IPv6A, fmt.Sprintf("2001:db8:99:%x::1/64", i))
	defp(&o.IPv6B, fmt.Sprintf("2001:db8:99:%x::2/64", i))
	return nil
}

func linkExists(h *netlink.Handle, name string) bool {
	_, err := h.LinkByName(name)
	return err == nil
}

func setUpEnd(e *VethEnd, h *netlink.Handle, v4, v6 netip.Prefix, mtu int) error {
	link, err := h.LinkByName(e.Name)
	if err != nil {
		return fmt.Errorf("finding %s in %s: %w", e.Name, e.NS.Name, err)
	}
	if mtu != 0 && link.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("setting the MTU of %s: %w", e.Name, err)
		}
	}
	for _, p := range []netip.Prefix{v4, v6} {
		addr := &netlink.Addr{IPNet: prefixIPNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("adding %s to %s: %w", p, e.Name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", e.Name, err)
	}
	e.Index = link.Attrs().Index
	e.MAC = link.Attrs().HardwareAddr
	e.IPv4, e.IPv6 = v4, v6
	return nil
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// remove deletes the pair (deleting one end removes both); a pair whose
// namespace is gone is gone with it.
func (p *VethPair) remove() error {
	h, err := netlink.NewHandleAt(p.A.NS.handle)
	if err != nil {
		return nil // the namespace is closed: the pair went with it
	}
	defer h.Close()
	link, err := h.LinkByName(p.A.Name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("finding %s: %w", p.A.Name, err)
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("deleting %s: %w", p.A.Name, err)
	}
	return nil
}
