package testutil

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// This file is the one packet builder of the repository: Ethernet frames
// with valid lengths and checksums, input for BPF_PROG_TEST_RUN.
// plugins/sdk/sdktest re-exports it for plugin authors.

// The MAC addresses of the Ethernet frames built here.
var (
	PacketSrcMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	PacketDstMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// Ether types.
const (
	EtherTypeIPv4  uint16 = 0x0800
	EtherTypeARP   uint16 = 0x0806
	EtherTypeVLAN  uint16 = 0x8100 // 802.1Q
	EtherTypeQinQ  uint16 = 0x88a8 // 802.1ad
	EtherTypeIPv6  uint16 = 0x86dd
	ethernetHeader        = 14
)

// IP protocol numbers.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// TCPFlags are the flag bits of a TCP header.
type TCPFlags uint8

// TCP flags.
const (
	TCPFIN TCPFlags = 1 << iota
	TCPSYN
	TCPRST
	TCPPSH
	TCPACK
	TCPURG
)

// TCPHeader holds the fields of a TCP header that TCPPacket does not
// compute.
type TCPHeader struct {
	Seq, Ack uint32
	Flags    TCPFlags
	// Window is the receive window; zero means 65535.
	Window uint16
	// Options are the header's options as sent, padded with zeros (EOL)
	// to a multiple of 4 bytes; at most 40 bytes.
	Options []byte
}

// EthernetFrame returns an Ethernet frame from PacketSrcMAC to
// PacketDstMAC carrying payload.
func EthernetFrame(etherType uint16, payload []byte) []byte {
	b := make([]byte, ethernetHeader, ethernetHeader+len(payload))
	copy(b[0:6], PacketDstMAC)
	copy(b[6:12], PacketSrcMAC)
	binary.BigEndian.PutUint16(b[12:], etherType)
	return append(b, payload...)
}

// VLANFrame returns frame with an 802.1Q tag carrying id inserted after its
// MAC addresses. It panics if frame is shorter than two MAC addresses.
func VLANFrame(frame []byte, id uint16) []byte {
	if len(frame) < 12 {
		panic(fmt.Sprintf("VLAN tag: a %d-byte frame has no MAC addresses", len(frame)))
	}
	out := make([]byte, 0, len(frame)+4)
	out = append(out, frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, EtherTypeVLAN)
	out = binary.BigEndian.AppendUint16(out, id&0x0fff)
	return append(out, frame[12:]...)
}

// isV6 reports whether a is an IPv6 address; IPv4-mapped addresses count as
// IPv4.
func isV6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

func sameFamily(src, dst netip.Addr) {
	if !src.IsValid() || !dst.IsValid() || isV6(src) != isV6(dst) {
		panic(fmt.Sprintf("packet: addresses %s and %s are not of one family", src, dst))
	}
}

// IPv4Packet returns an IPv4 packet (20-byte header, TTL 64, don't
// fragment, valid header checksum) from src to dst carrying payload of
// protocol proto. It has no Ethernet header: wrap it with
// EthernetFrame(EtherTypeIPv4, ...).
func IPv4Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	sameFamily(src, dst)
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[6:], 0x4000)
	h[8], h[9] = 64, proto
	s, d := src.Unmap().As4(), dst.Unmap().As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], ^fold(onesSum(0, h)))
	return append(h, payload...)
}

// IPv6Packet returns an IPv6 packet (hop limit 64, no extension headers)
// from src to dst carrying payload of protocol proto. It has no Ethernet
// header: wrap it with EthernetFrame(EtherTypeIPv6, ...).
func IPv6Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	sameFamily(src, dst)
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = proto, 64
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	return append(h, payload...)
}

// IPPacket returns an Ethernet frame with an IPv4 or IPv6 packet (after the
// addresses' family) from src to dst carrying payload of protocol proto, as
// is: for protocols UDPPacket, TCPPacket and ICMPEchoPacket do not build.
func IPPacket(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	sameFamily(src, dst)
	if isV6(src) {
		return EthernetFrame(EtherTypeIPv6, IPv6Packet(src, dst, proto, payload))
	}
	return EthernetFrame(EtherTypeIPv4, IPv4Packet(src, dst, proto, payload))
}

// UDPPacket returns an Ethernet frame carrying a UDP datagram from src to
// dst with payload, over IPv4 or IPv6 after the addresses' family (which
// must be one), with valid lengths and checksums.
func UDPPacket(src, dst netip.AddrPort, payload []byte) []byte {
	seg := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(seg[0:], src.Port())
	binary.BigEndian.PutUint16(seg[2:], dst.Port())
	binary.BigEndian.PutUint16(seg[4:], uint16(8+len(payload)))
	seg = append(seg, payload...)
	sum := transportChecksum(src.Addr(), dst.Addr(), ProtoUDP, seg)
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(seg[6:], sum)
	return IPPacket(src.Addr(), dst.Addr(), ProtoUDP, seg)
}

// TCPPacket returns an Ethernet frame with a TCP segment (20-byte header,
// no options) from src to dst with h's sequence numbers, flags and window,
// carrying payload, over IPv4 or IPv6 after the addresses' family, with
// valid lengths and checksums.
func TCPPacket(src, dst netip.AddrPort, h TCPHeader, payload []byte) []byte {
	opts := (len(h.Options) + 3) &^ 3
	if opts > 40 {
		panic(fmt.Sprintf("TCPPacket: %d bytes of options, at most 40 fit", len(h.Options)))
	}
	seg := make([]byte, 20+opts, 20+opts+len(payload))
	copy(seg[20:], h.Options)
	binary.BigEndian.PutUint16(seg[0:], src.Port())
	binary.BigEndian.PutUint16(seg[2:], dst.Port())
	binary.BigEndian.PutUint32(seg[4:], h.Seq)
	binary.BigEndian.PutUint32(seg[8:], h.Ack)
	seg[12] = byte(5+opts/4) << 4 // data offset in words
	seg[13] = byte(h.Flags)
	window := h.Window
	if window == 0 {
		window = 65535
	}
	binary.BigEndian.PutUint16(seg[14:], window)
	seg = append(seg, payload...)
	binary.BigEndian.PutUint16(seg[16:], transportChecksum(src.Addr(), dst.Addr(), ProtoTCP, seg))
	return IPPacket(src.Addr(), dst.Addr(), ProtoTCP, seg)
}

// ICMPEchoPacket returns an Ethernet frame carrying an ICMP (IPv4) or
// ICMPv6 (IPv6) echo request from src to dst with valid checksums.
func ICMPEchoPacket(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	sameFamily(src, dst)
	msg := make([]byte, 8, 8+len(payload))
	msg[0] = 8 // ICMP echo request
	proto := ProtoICMP
	if isV6(src) {
		msg[0] = 128 // ICMPv6 echo request
		proto = ProtoICMPv6
	}
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	msg = append(msg, payload...)
	sum := ^fold(onesSum(0, msg)) // ICMP: no pseudo-header
	if proto == ProtoICMPv6 {
		sum = transportChecksum(src, dst, proto, msg)
	}
	binary.BigEndian.PutUint16(msg[2:], sum)
	return IPPacket(src, dst, proto, msg)
}

// transportChecksum is the Internet checksum of a UDP, TCP or ICMPv6
// message (its checksum field zero) with the IPv4 or IPv6 pseudo-header.
func transportChecksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	sameFamily(src, dst)
	var pseudo []byte
	if isV6(src) {
		s, d := src.As16(), dst.As16()
		pseudo = append(append(pseudo, s[:]...), d[:]...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
		pseudo = append(pseudo, 0, 0, 0, proto)
	} else {
		s, d := src.Unmap().As4(), dst.Unmap().As4()
		pseudo = append(append(pseudo, s[:]...), d[:]...)
		pseudo = append(pseudo, 0, proto)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	}
	return ^fold(onesSum(onesSum(0, pseudo), seg))
}

// onesSum adds b, as big-endian 16-bit words (an odd last byte padded with
// zero), to sum.
func onesSum(sum uint64, b []byte) uint64 {
	for ; len(b) >= 2; b = b[2:] {
		sum += uint64(b[0])<<8 | uint64(b[1])
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// fold folds a one's complement sum into 16 bits.
func fold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
