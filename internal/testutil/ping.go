package testutil

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// PingTimeout is how long Ping waits for each echo reply.
const PingTimeout = time.Second

// Ping sends n ICMP (IPv4) or ICMPv6 (IPv6) echo requests to dst from a raw
// socket inside ns, one after the other, waiting up to PingTimeout for each
// reply, and returns how many replies came back. It fails the test only if
// the socket cannot be used.
func Ping(tb testing.TB, ns *NetNS, dst netip.Addr, n int) (received int) {
	tb.Helper()
	received, err := ping(ns, dst, n, PingTimeout)
	if err != nil {
		tb.Fatalf("pinging %s from %s: %v", dst, ns.Name, err)
	}
	return received
}

func ping(ns *NetNS, dst netip.Addr, n int, timeout time.Duration) (int, error) {
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() && !dst.Is4In6() {
		network, laddr, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	dst = dst.Unmap()

	var conn *icmp.PacketConn
	err := ns.Do(func() error {
		var err error
		conn, err = icmp.ListenPacket(network, laddr)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("opening a raw ICMP socket: %w", err)
	}
	defer conn.Close()

	id := int(rand.Uint32() & 0xffff)
	to := &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	buf := make([]byte, 1500)
	received := 0
	for seq := range n {
		msg := icmp.Message{
			Type: reqType,
			Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("xdpchain ping")},
		}
		// For ICMPv6 the kernel computes the checksum.
		b, err := msg.Marshal(nil)
		if err != nil {
			return received, err
		}
		if _, err := conn.WriteTo(b, to); err != nil {
			return received, fmt.Errorf("sending echo %d: %w", seq, err)
		}
		deadline := time.Now().Add(timeout)
		if err := conn.SetReadDeadline(deadline); err != nil {
			return received, err
		}
		for {
			nr, peer, err := conn.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break // lost
			}
			if err != nil {
				return received, fmt.Errorf("reading echo reply %d: %w", seq, err)
			}
			if !isEchoReply(buf[:nr], proto, replyType, id, seq, peer, dst) {
				continue // someone else's ICMP
			}
			received++
			break
		}
	}
	return received, nil
}

func isEchoReply(b []byte, proto int, replyType icmp.Type, id, seq int, peer net.Addr, dst netip.Addr) bool {
	ip, ok := peer.(*net.IPAddr)
	if !ok {
		return false
	}
	if from, ok := netip.AddrFromSlice(ip.IP); !ok || from.Unmap() != dst {
		return false
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil || m.Type != replyType {
		return false
	}
	echo, ok := m.Body.(*icmp.Echo)
	return ok && echo.ID == id && echo.Seq == seq
}
