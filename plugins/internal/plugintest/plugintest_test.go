package plugintest

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestUDPFrom(t *testing.T) {
	for _, tc := range []struct {
		src, dst  string
		etherType uint16
		ipLen     int // header length up to the UDP header
		srcAt     int // offset of the source address in the IP header
		addrLen   int
	}{
		{"192.0.2.1", "10.0.0.1", 0x0800, 20, 12, 4},
		{"2001:db8::1", "fd00::1", 0x86dd, 40, 8, 16},
	} {
		f := UDPFrom(tc.src)
		if got := binary.BigEndian.Uint16(f[12:14]); got != tc.etherType {
			t.Errorf("%s: ether type %#04x, want %#04x", tc.src, got, tc.etherType)
		}
		ip := f[14:]
		src, _ := netip.AddrFromSlice(ip[tc.srcAt : tc.srcAt+tc.addrLen])
		dst, _ := netip.AddrFromSlice(ip[tc.srcAt+tc.addrLen : tc.srcAt+2*tc.addrLen])
		if src != netip.MustParseAddr(tc.src) || dst != netip.MustParseAddr(tc.dst) {
			t.Errorf("%s: addresses %s -> %s, want %s -> %s", tc.src, src, dst, tc.src, tc.dst)
		}
		udp := ip[tc.ipLen:]
		if sp, dp := binary.BigEndian.Uint16(udp[0:2]), binary.BigEndian.Uint16(udp[2:4]); sp != 1234 || dp != 53 {
			t.Errorf("%s: ports %d -> %d, want 1234 -> 53", tc.src, sp, dp)
		}
		if payload := string(udp[8:]); payload != "hello" {
			t.Errorf("%s: payload %q, want \"hello\"", tc.src, payload)
		}
	}
}
