package bench

import (
	"encoding/binary"
)

// PacketSize is the size of the benchmark packet: the minimum Ethernet
// frame without FCS.
const PacketSize = 64

// udpPacket returns a 64-byte Ethernet/IPv4/UDP frame (14 + 20 + 8 bytes of
// headers and 22 bytes of payload) with valid IPv4 and UDP checksums, from
// 10.0.0.1:1024 to 10.0.0.2:9 between locally administered MAC addresses.
func udpPacket() []byte {
	b := make([]byte, PacketSize)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})  // destination MAC
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01}) // source MAC
	binary.BigEndian.PutUint16(b[12:], 0x0800)    // IPv4

	ip := b[14:34]
	ip[0] = 0x45 // version 4, 5 words
	binary.BigEndian.PutUint16(ip[2:], PacketSize-14)
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip, 0)))

	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:], 1024)
	binary.BigEndian.PutUint16(udp[2:], 9)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	for i := 8; i < len(udp); i++ {
		udp[i] = byte(i)
	}
	// Pseudo header: addresses, protocol, UDP length.
	pseudo := sum(ip[12:20], 17+uint32(len(udp)))
	c := ^fold(sum(udp, pseudo))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return b
}

// sum adds b as big-endian 16-bit words to acc (one's complement, unfolded).
func sum(b []byte, acc uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
