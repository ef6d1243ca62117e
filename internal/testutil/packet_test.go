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

// verifies reports whether the one's complement sum over b (with the
// checksum in place) is all ones, as a receiver checks it.
func verifies(sum uint64, b []byte) bool { return fold(onesSum(sum, b)) == 0xffff }

func pseudoSum(src, dst netip.Addr, proto uint8, n int) uint64 {
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		return onesSum(0, append(append(append(s[:], d[:]...), 0, proto), byte(n>>8), byte(n)))
	}
	s, d := src.As16(), dst.As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return onesSum(0, append(b, 0, 0, 0, proto))
}

func TestTCP(t *testing.T) {
	for _, tc := range []struct {
		src, dst  string
		etherType uint16
		ipLen     int
	}{
		{"192.0.2.1:40000", "198.51.100.2:443", EtherTypeIPv4, 20},
		{"[2001:db8::1]:40000", "[2001:db8::2]:443", EtherTypeIPv6, 40},
	} {
		src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		f := TCPPacket(src, dst, TCPHeader{Seq: 7, Ack: 9, Flags: TCPSYN | TCPACK}, []byte("abc"))
		if et := binary.BigEndian.Uint16(f[12:]); et != tc.etherType {
			t.Errorf("%s: ether type %#x", tc.src, et)
		}
		ip := f[ethernetHeader:]
		seg := ip[tc.ipLen:]
		if len(seg) != 23 {
			t.Fatalf("%s: segment of %d bytes, want 23", tc.src, len(seg))
		}
		if tc.etherType == EtherTypeIPv4 {
			if ip[9] != ProtoTCP || binary.BigEndian.Uint16(ip[2:]) != 43 || !verifies(0, ip[:20]) {
				t.Errorf("%s: bad IPv4 header %x", tc.src, ip[:20])
			}
		} else if ip[6] != ProtoTCP || binary.BigEndian.Uint16(ip[4:]) != 23 {
			t.Errorf("%s: bad IPv6 header %x", tc.src, ip[:40])
		}
		if sp, dp := binary.BigEndian.Uint16(seg), binary.BigEndian.Uint16(seg[2:]); sp != 40000 || dp != 443 {
			t.Errorf("%s: ports %d -> %d", tc.src, sp, dp)
		}
		if seq, ack := binary.BigEndian.Uint32(seg[4:]), binary.BigEndian.Uint32(seg[8:]); seq != 7 || ack != 9 {
			t.Errorf("%s: seq %d ack %d", tc.src, seq, ack)
		}
		if seg[12] != 0x50 || TCPFlags(seg[13]) != TCPSYN|TCPACK || binary.BigEndian.Uint16(seg[14:]) != 65535 {
			t.Errorf("%s: offset %#x flags %#x window %d", tc.src, seg[12], seg[13], binary.BigEndian.Uint16(seg[14:]))
		}
		if !verifies(pseudoSum(src.Addr(), dst.Addr(), ProtoTCP, len(seg)), seg) {
			t.Errorf("%s: TCP checksum does not verify: %x", tc.src, seg)
		}
		if string(seg[20:]) != "abc" {
			t.Errorf("%s: payload %q", tc.src, seg[20:])
		}
	}
}

// TestTCPKnownChecksum checks one segment against a checksum computed by
// hand: 10.0.0.1:1 -> 10.0.0.2:2, seq 0, ack 0, SYN, window 65535.
func TestTCPKnownChecksum(t *testing.T) {
	f := TCPPacket(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), TCPHeader{Flags: TCPSYN}, nil)
	// pseudo header: 0a00+0001+0a00+0002+0006+0014 = 0x141d; header words:
	// 0001+0002+0+0+0+0+5002+ffff+0+0 = 0x15004 -> 0x5005; total 0x6422,
	// complement 0x9bdd.
	if got := binary.BigEndian.Uint16(f[ethernetHeader+20+16:]); got != 0x9bdd {
		t.Errorf("checksum %#04x, want 0x9bdd", got)
	}
}

func TestIPAndVLAN(t *testing.T) {
	f := IPPacket(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), ProtoICMP, []byte{8, 0, 0, 0})
	if len(f) != 14+20+4 || f[14+9] != ProtoICMP || !bytes.Equal(f[0:6], PacketDstMAC) || !bytes.Equal(f[6:12], PacketSrcMAC) {
		t.Errorf("IP frame %x", f)
	}
	v := VLANFrame(f, 7)
	if len(v) != len(f)+4 || binary.BigEndian.Uint16(v[12:]) != EtherTypeVLAN || binary.BigEndian.Uint16(v[14:]) != 7 ||
		!bytes.Equal(v[16:], f[12:]) || !bytes.Equal(v[:12], f[:12]) {
		t.Errorf("VLAN frame %x from %x", v, f)
	}
	// An IPv4-mapped address is IPv4.
	m := UDPPacket(netip.MustParseAddrPort("[::ffff:192.0.2.1]:1"), netip.MustParseAddrPort("192.0.2.2:2"), nil)
	if binary.BigEndian.Uint16(m[12:]) != EtherTypeIPv4 {
		t.Errorf("IPv4-mapped source: ether type %#x", binary.BigEndian.Uint16(m[12:]))
	}
}

func TestMixedFamiliesPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("UDP from IPv4 to IPv6 did not panic")
		}
	}()
	UDPPacket(netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("[2001:db8::1]:2"), nil)
}

// TestTCPOptions: options follow the 20-byte header, padded with zeros
// (EOL) to whole words, the data offset and lengths count them, and the
// checksum covers them.
func TestTCPOptions(t *testing.T) {
	src, dst := netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:53")
	opts := []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7} // MSS, SACK permitted, NOP, window scale: 10 bytes
	f := TCPPacket(src, dst, TCPHeader{Flags: TCPSYN, Options: opts}, []byte("x"))
	ip := f[ethernetHeader:]
	seg := ip[20:]
	if len(seg) != 20+12+1 || binary.BigEndian.Uint16(ip[2:]) != uint16(20+len(seg)) {
		t.Fatalf("segment of %d bytes (IP length %d), want 33", len(seg), binary.BigEndian.Uint16(ip[2:]))
	}
	if seg[12] != 8<<4 {
		t.Errorf("data offset %d words, want 8", seg[12]>>4)
	}
	if !bytes.Equal(seg[20:30], opts) || seg[30] != 0 || seg[31] != 0 || seg[32] != 'x' {
		t.Errorf("options and payload %x", seg[20:])
	}
	if !verifies(pseudoSum(src.Addr(), dst.Addr(), ProtoTCP, len(seg)), seg) {
		t.Errorf("TCP checksum does not verify: %x", seg)
	}
}
