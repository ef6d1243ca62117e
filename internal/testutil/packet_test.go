package testutil

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

func TestUDPPacketLayout(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.1:1234")
	dst := netip.MustParseAddrPort("198.51.100.2:9999")
	pkt := UDPPacket(src, dst, []byte("hi"))
	if len(pkt) != 14+20+8+2 {
		t.Fatalf("length %d", len(pkt))
	}
	if !bytes.Equal(pkt[0:6], PacketDstMAC) || !bytes.Equal(pkt[6:12], PacketSrcMAC) || binary.BigEndian.Uint16(pkt[12:]) != 0x0800 {
		t.Fatalf("ethernet header % x", pkt[:14])
	}
	h, err := ipv4.ParseHeader(pkt[14:])
	if err != nil {
		t.Fatal(err)
	}
	if h.Protocol != 17 || h.TotalLen != 30 || !h.Src.Equal(net.ParseIP("192.0.2.1")) || !h.Dst.Equal(net.ParseIP("198.51.100.2")) {
		t.Fatalf("IPv4 header %v", h)
	}
	udp := pkt[34:]
	if binary.BigEndian.Uint16(udp[0:]) != 1234 || binary.BigEndian.Uint16(udp[2:]) != 9999 || binary.BigEndian.Uint16(udp[4:]) != 10 {
		t.Fatalf("UDP header % x", udp[:8])
	}

	pkt6 := UDPPacket(netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2"), nil)
	if len(pkt6) != 14+40+8 || binary.BigEndian.Uint16(pkt6[12:]) != 0x86dd || pkt6[14+6] != 17 {
		t.Fatalf("IPv6 packet % x", pkt6)
	}
	icmp6 := ICMPEchoPacket(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 2, nil)
	if icmp6[14+6] != 58 || icmp6[14+40] != 128 {
		t.Fatalf("ICMPv6 packet % x", icmp6)
	}
}

// The kernel is the judge of the checksums: a built frame injected into one
// end of a veth pair must reach a socket behind the other end.
func TestPacketsAcceptedByKernel(t *testing.T) {
	nsA, nsB := NewNetNS(t), NewNetNS(t)
	p := NewVethPair(t, nsA, nsB, nil)
	inject := packetInjector(t, nsA, p.A.Index)

	for _, c := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"ipv4", p.A.Addr4(), p.B.Addr4()},
		{"ipv6", p.A.Addr6(), p.B.Addr6()},
	} {
		t.Run("udp-"+c.name, func(t *testing.T) {
			r := ListenUDP(t, nsB, netip.AddrPortFrom(c.dst, 0))
			for _, size := range []int{0, 1, 33, 1000} { // odd sizes test checksum padding
				pkt := UDPPacket(netip.AddrPortFrom(c.src, 4321), r.Addr(), bytes.Repeat([]byte{0xa5}, size))
				inject(address(pkt, p.A.MAC, p.B.MAC))
			}
			if got := r.WaitFor(4, 5*time.Second); got != 4 {
				t.Fatalf("received %d of 4 injected datagrams", got)
			}

			// A corrupted checksum is dropped by the kernel, which shows the
			// check above means something.
			pkt := UDPPacket(netip.AddrPortFrom(c.src, 4321), r.Addr(), []byte("bad"))
			pkt[len(pkt)-1] ^= 0xff
			inject(address(pkt, p.A.MAC, p.B.MAC))
			if got := r.Settle(200*time.Millisecond, 2*time.Second); got != 4 {
				t.Fatalf("a corrupted datagram was received (%d)", got)
			}
		})
		t.Run("icmp-"+c.name, func(t *testing.T) {
			proto, network, laddr := 1, "ip4:icmp", "0.0.0.0"
			var reply icmp.Type = ipv4.ICMPTypeEchoReply
			if c.dst.Is6() {
				proto, network, laddr, reply = 58, "ip6:ipv6-icmp", "::", ipv6.ICMPTypeEchoReply
			}
			var conn *icmp.PacketConn
			InNetNS(t, nsA, func() (err error) {
				conn, err = icmp.ListenPacket(network, laddr)
				return err
			})
			defer conn.Close()
			// Echo twice: the first may wait for neighbour resolution of
			// the reply.
			for seq := range uint16(2) {
				inject(address(ICMPEchoPacket(c.src, c.dst, 0x4242, seq, []byte("odd")), p.A.MAC, p.B.MAC))
			}
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 1500)
			for {
				n, peer, err := conn.ReadFrom(buf)
				if err != nil {
					t.Fatalf("no echo reply to an injected request: %v", err)
				}
				if isEchoReply(buf[:n], proto, reply, 0x4242, 0, peer, c.dst) || isEchoReply(buf[:n], proto, reply, 0x4242, 1, peer, c.dst) {
					return
				}
			}
		})
	}
}

// address sets the Ethernet addresses of a built frame.
func address(pkt []byte, src, dst net.HardwareAddr) []byte {
	copy(pkt[0:6], dst)
	copy(pkt[6:12], src)
	return pkt
}

// packetInjector returns a function that transmits raw frames on the
// interface ifindex of ns.
func packetInjector(t *testing.T, ns *NetNS, ifindex int) func([]byte) {
	t.Helper()
	var fd int
	InNetNS(t, ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	t.Cleanup(func() { unix.Close(fd) })
	return func(frame []byte) {
		t.Helper()
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			t.Fatal(fmt.Errorf("injecting a frame: %w", err))
		}
	}
}
