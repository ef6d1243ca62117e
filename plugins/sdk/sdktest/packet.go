package sdktest

import (
	"net/netip"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// The frames are built by the repository's one packet builder
// (internal/testutil), which xdpchain's own tests use too.

// The MAC addresses of the Ethernet frames built here.
var (
	SrcMAC = testutil.PacketSrcMAC
	DstMAC = testutil.PacketDstMAC
)

// Ether types.
const (
	EtherTypeIPv4 = testutil.EtherTypeIPv4
	EtherTypeARP  = testutil.EtherTypeARP
	EtherTypeVLAN = testutil.EtherTypeVLAN // 802.1Q
	EtherTypeQinQ = testutil.EtherTypeQinQ // 802.1ad
	EtherTypeIPv6 = testutil.EtherTypeIPv6
)

// IP protocol numbers.
const (
	ProtoICMP   = testutil.ProtoICMP
	ProtoTCP    = testutil.ProtoTCP
	ProtoUDP    = testutil.ProtoUDP
	ProtoICMPv6 = testutil.ProtoICMPv6
)

// TCPFlags are the flag bits of a TCP header.
type TCPFlags = testutil.TCPFlags

// TCP flags.
const (
	FIN = testutil.TCPFIN
	SYN = testutil.TCPSYN
	RST = testutil.TCPRST
	PSH = testutil.TCPPSH
	ACK = testutil.TCPACK
	URG = testutil.TCPURG
)

// TCPHeader holds the fields of a TCP header that TCP does not compute.
type TCPHeader = testutil.TCPHeader

// Ethernet returns an Ethernet frame from SrcMAC to DstMAC carrying payload.
func Ethernet(etherType uint16, payload []byte) []byte {
	return testutil.EthernetFrame(etherType, payload)
}

// VLAN returns frame with an 802.1Q tag carrying id inserted after its MAC
// addresses.
func VLAN(frame []byte, id uint16) []byte { return testutil.VLANFrame(frame, id) }

// IPv4 returns an IPv4 packet (20-byte header, TTL 64, don't fragment, valid
// header checksum) from src to dst carrying payload of protocol proto. It
// has no Ethernet header: wrap it with Ethernet(EtherTypeIPv4, ...).
func IPv4(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	return testutil.IPv4Packet(src, dst, proto, payload)
}

// IPv6 returns an IPv6 packet (hop limit 64, no extension headers) from src
// to dst carrying payload of protocol proto. It has no Ethernet header: wrap
// it with Ethernet(EtherTypeIPv6, ...).
func IPv6(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	return testutil.IPv6Packet(src, dst, proto, payload)
}

// IP returns an Ethernet frame with an IPv4 or IPv6 packet (after the
// addresses' family) from src to dst carrying payload of protocol proto, as
// is: for protocols UDP and TCP do not build.
func IP(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	return testutil.IPPacket(src, dst, proto, payload)
}

// UDP returns an Ethernet frame with a UDP datagram from src to dst carrying
// payload, over IPv4 or IPv6 after the addresses' family (which must be
// one), with valid lengths and checksums.
func UDP(src, dst netip.AddrPort, payload []byte) []byte {
	return testutil.UDPPacket(src, dst, payload)
}

// TCP returns an Ethernet frame with a TCP segment (20-byte header and h's
// options) from src to dst with h's sequence numbers, flags and window,
// carrying payload, over IPv4 or IPv6 after the addresses' family, with
// valid lengths and checksums.
func TCP(src, dst netip.AddrPort, h TCPHeader, payload []byte) []byte {
	return testutil.TCPPacket(src, dst, h, payload)
}
