package testutil

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// MACs used in the Ethernet header of built packets.
var (
	PacketSrcMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	PacketDstMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	protoICMP     = 1
	protoUDP      = 17
	protoICMPv6   = 58
	ethHeaderLen  = 14
)

// UDPPacket builds an Ethernet frame carrying a UDP datagram from src to
// dst with payload, over IPv4 or IPv6 after the addresses (which must be of
// one family), with valid lengths and checksums: input for
// BPF_PROG_TEST_RUN.
func UDPPacket(src, dst netip.AddrPort, payload []byte) []byte {
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload)
	sum := checksum(udp, pseudoHeaderSum(src.Addr(), dst.Addr(), protoUDP, len(udp)))
	if sum == 0 {
		sum = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
	return ipPacket(src.Addr(), dst.Addr(), protoUDP, udp)
}

// ICMPEchoPacket builds an Ethernet frame carrying an ICMP (IPv4) or
// ICMPv6 (IPv6) echo request from src to dst with valid checksums.
func ICMPEchoPacket(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	msg := make([]byte, 8+len(payload))
	msg[0] = 8 // ICMP echo request
	proto := protoICMP
	initial := uint32(0)
	if is6(src) {
		msg[0] = 128 // ICMPv6 echo request
		proto = protoICMPv6
		initial = pseudoHeaderSum(src, dst, protoICMPv6, len(msg))
	}
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	copy(msg[8:], payload)
	binary.BigEndian.PutUint16(msg[2:], checksum(msg, initial))
	return ipPacket(src, dst, proto, msg)
}

func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

func ipPacket(src, dst netip.Addr, proto int, payload []byte) []byte {
	var b []byte
	if is6(src) {
		b = make([]byte, ethHeaderLen+40+len(payload))
		ethernet(b, etherTypeIPv6)
		ip := b[ethHeaderLen:]
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
		ip[6] = byte(proto)
		ip[7] = 64 // hop limit
		s, d := src.As16(), dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		copy(ip[40:], payload)
		return b
	}
	b = make([]byte, ethHeaderLen+20+len(payload))
	ethernet(b, etherTypeIPv4)
	ip := b[ethHeaderLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64                                 // TTL
	ip[9] = byte(proto)
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:20], 0))
	copy(ip[20:], payload)
	return b
}

func ethernet(b []byte, etherType uint16) {
	copy(b[0:], PacketDstMAC)
	copy(b[6:], PacketSrcMAC)
	binary.BigEndian.PutUint16(b[12:], etherType)
}

// pseudoHeaderSum is the unfolded one's complement sum of the IPv4 or IPv6
// pseudo-header.
func pseudoHeaderSum(src, dst netip.Addr, proto, length int) uint32 {
	var ph []byte
	if is6(src) {
		s, d := src.As16(), dst.As16()
		ph = append(append(ph, s[:]...), d[:]...)
		ph = binary.BigEndian.AppendUint32(ph, uint32(length))
		ph = append(ph, 0, 0, 0, byte(proto))
	} else {
		s, d := src.Unmap().As4(), dst.Unmap().As4()
		ph = append(append(ph, s[:]...), d[:]...)
		ph = append(ph, 0, byte(proto))
		ph = binary.BigEndian.AppendUint16(ph, uint16(length))
	}
	return sum16(ph, 0)
}

func sum16(b []byte, sum uint32) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// checksum returns the Internet checksum of b, starting from initial.
func checksum(b []byte, initial uint32) uint16 {
	sum := sum16(b, initial)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
