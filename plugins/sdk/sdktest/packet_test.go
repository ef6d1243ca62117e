package sdktest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestUDPAgainstTestutil: the UDP frames are byte for byte those of the
// module's own packet builder (which the kernel accepts, see
// internal/testutil's TestPacketsAcceptedByKernel).
func TestUDPAgainstTestutil(t *testing.T) {
	for _, tc := range [][2]string{
		{"192.0.2.1:1234", "198.51.100.2:53"},
		{"[2001:db8::1]:5353", "[fd00::2]:53"},
	} {
		src, dst := netip.MustParseAddrPort(tc[0]), netip.MustParseAddrPort(tc[1])
		for _, payload := range [][]byte{nil, []byte("hello"), []byte("odd")} {
			got := UDP(src, dst, payload)
			want := testutil.UDPPacket(src, dst, payload)
			if !bytes.Equal(got, want) {
				t.Errorf("%s -> %s %q:\n got %x\nwant %x", src, dst, payload, got, want)
			}
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
		f := TCP(src, dst, TCPHeader{Seq: 7, Ack: 9, Flags: SYN | ACK}, []byte("abc"))
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
		if seg[12] != 0x50 || TCPFlags(seg[13]) != SYN|ACK || binary.BigEndian.Uint16(seg[14:]) != 65535 {
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
	f := TCP(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"), TCPHeader{Flags: SYN}, nil)
	// pseudo header: 0a00+0001+0a00+0002+0006+0014 = 0x141d; header words:
	// 0001+0002+0+0+0+0+5002+ffff+0+0 = 0x15004 -> 0x5005; total 0x6422,
	// complement 0x9bdd.
	if got := binary.BigEndian.Uint16(f[ethernetHeader+20+16:]); got != 0x9bdd {
		t.Errorf("checksum %#04x, want 0x9bdd", got)
	}
}

func TestIPAndVLAN(t *testing.T) {
	f := IP(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), ProtoICMP, []byte{8, 0, 0, 0})
	if len(f) != 14+20+4 || f[14+9] != ProtoICMP || !bytes.Equal(f[0:6], DstMAC) || !bytes.Equal(f[6:12], SrcMAC) {
		t.Errorf("IP frame %x", f)
	}
	v := VLAN(f, 7)
	if len(v) != len(f)+4 || binary.BigEndian.Uint16(v[12:]) != EtherTypeVLAN || binary.BigEndian.Uint16(v[14:]) != 7 ||
		!bytes.Equal(v[16:], f[12:]) || !bytes.Equal(v[:12], f[:12]) {
		t.Errorf("VLAN frame %x from %x", v, f)
	}
	// An IPv4-mapped address is IPv4.
	m := UDP(netip.MustParseAddrPort("[::ffff:192.0.2.1]:1"), netip.MustParseAddrPort("192.0.2.2:2"), nil)
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
	UDP(netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("[2001:db8::1]:2"), nil)
}

// TestTCPOptions: options follow the 20-byte header, padded with zeros
// (EOL) to whole words, the data offset and lengths count them, and the
// checksum covers them.
func TestTCPOptions(t *testing.T) {
	src, dst := netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:53")
	opts := []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7} // MSS, SACK permitted, NOP, window scale: 10 bytes
	f := TCP(src, dst, TCPHeader{Flags: SYN, Options: opts}, []byte("x"))
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
