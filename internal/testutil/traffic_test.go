package testutil

import (
	"net/netip"
	"testing"
	"time"
)

func TestPing(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)
	for _, c := range []struct {
		ns  *NetNS
		dst netip.Addr
	}{
		{nsA, p.B.Addr4()}, {nsA, p.B.Addr6()},
		{nsB, p.A.Addr4()}, {nsB, p.A.Addr6()},
	} {
		if got := Ping(t, c.ns, c.dst, 3); got != 3 {
			t.Errorf("ping %s from %s: %d of 3 replies", c.dst, c.ns.Name, got)
		}
	}
	// Nobody answers for an address that is not there.
	if got := Ping(t, nsA, netip.MustParseAddr("10.99.0.99"), 1); got != 0 {
		t.Errorf("ping to a missing host: %d replies", got)
	}
}

func TestUDP(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)

	for _, c := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"ipv4", p.A.Addr4(), p.B.Addr4()},
		{"ipv6", p.A.Addr6(), p.B.Addr6()},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ListenUDP(t, nsB, netip.AddrPortFrom(c.dst, 0))
			other := ListenUDP(t, nsB, netip.AddrPortFrom(c.dst, 0))
			if r.Addr().Port() == 0 || r.Addr().Addr() != c.dst {
				t.Fatalf("receiver address %s", r.Addr())
			}
			const n = 200
			SendUDP(t, nsA, netip.AddrPortFrom(c.src, 0), r.Addr(), n)
			if got := r.WaitFor(n, 5*time.Second); got != n {
				t.Fatalf("received %d of %d datagrams", got, n)
			}
			if got := r.Settle(100*time.Millisecond, time.Second); got != n {
				t.Fatalf("received %d datagrams, sent %d", got, n)
			}
			if got := other.Count(); got != 0 {
				t.Fatalf("a receiver on another port counted %d datagrams", got)
			}
		})
	}

	// Traffic from an unspecified source address, within one namespace.
	r := ListenUDP(t, nsA, netip.MustParseAddrPort("127.0.0.1:0"))
	SendUDP(t, nsA, netip.AddrPort{}, r.Addr(), 3)
	if got := r.WaitFor(3, 5*time.Second); got != 3 {
		t.Fatalf("loopback: received %d of 3", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPacedUDP: the paced sender's datagrams go round robin to its
// destinations, every one arrives, and Stop reports what was sent.
func TestPacedUDP(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)
	r1 := ListenUDP(t, nsB, netip.AddrPortFrom(p.B.Addr4(), 0))
	r2 := ListenUDP(t, nsB, netip.AddrPortFrom(p.B.Addr4(), 0))
	s := StartPacedUDP(t, nsA, 2000, r1.Addr(), r1.Addr(), r2.Addr())
	s.WaitSent(t, 300)
	sent, elapsed := s.Stop(t)
	if sent < 300 || elapsed <= 0 {
		t.Fatalf("Stop: %d sent over %v, want at least 300", sent, elapsed)
	}
	// Datagram N went to r2 when N%3 == 2.
	want2 := int(sent / 3)
	want1 := int(sent) - want2
	if got := r1.WaitFor(want1, time.Minute); got != want1 {
		t.Errorf("first destination: %d of %d datagrams", got, want1)
	}
	if got := r2.WaitFor(want2, time.Minute); got != want2 {
		t.Errorf("second destination: %d of %d datagrams", got, want2)
	}
	if more := s.Sent(); more != sent {
		t.Errorf("%d sent after Stop, which reported %d", more, sent)
	}
}
