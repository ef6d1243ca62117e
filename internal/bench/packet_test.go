package bench

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestUDPPacket(t *testing.T) {
	b := udpPacket()
	if len(b) != PacketSize {
		t.Fatalf("packet is %d bytes, want %d", len(b), PacketSize)
	}
	if et := binary.BigEndian.Uint16(b[12:]); et != 0x0800 {
		t.Errorf("ethertype %#x, want IPv4", et)
	}
	ip := b[14:34]
	if ip[0] != 0x45 || ip[9] != 17 {
		t.Errorf("IP header %x: want version 4, IHL 5, protocol UDP", ip[:10])
	}
	if got := binary.BigEndian.Uint16(ip[2:]); int(got) != PacketSize-14 {
		t.Errorf("IP total length %d, want %d", got, PacketSize-14)
	}
	if s := fold(sum(ip, 0)); s != 0xffff {
		t.Errorf("IP header checksum does not verify: sum %#x", s)
	}
	udp := b[34:]
	if got := binary.BigEndian.Uint16(udp[4:]); int(got) != len(udp) {
		t.Errorf("UDP length %d, want %d", got, len(udp))
	}
	if s := fold(sum(udp, sum(ip[12:20], 17+uint32(len(udp))))); s != 0xffff {
		t.Errorf("UDP checksum does not verify: sum %#x", s)
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0, 0},
		{0xffff, 0xffff},
		{0x10000, 1},
		{0x1fffe, 0xffff},
		{0xffffffff, 0xffff},
	} {
		if got := fold(tc.in); got != tc.want {
			t.Errorf("fold(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

// TestUDPProgramParsesPacket makes sure the udp test program parses the
// benchmark packet all the way to its port check: the packet passes, and
// the same packet to the port it drops is dropped.
func TestUDPProgramParsesPacket(t *testing.T) {
	testutil.RequireRoot(t)
	prog := loadTestProgram(t, testprogs.UDP)
	pkt := udpPacket()
	if ret, err := prog.Run(&ebpf.RunOptions{Data: pkt}); err != nil || ret != xdpPass {
		t.Errorf("the benchmark packet: verdict %d, %v; want XDP_PASS", ret, err)
	}
	binary.BigEndian.PutUint16(pkt[14+20+2:], testprogs.UDPDropPort)
	if ret, err := prog.Run(&ebpf.RunOptions{Data: pkt}); err != nil || ret != 1 {
		t.Errorf("the benchmark packet to port %d: verdict %d, %v; want XDP_DROP", testprogs.UDPDropPort, ret, err)
	}
}
