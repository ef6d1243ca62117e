package testutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendTimeout bounds each datagram SendUDP writes.
const sendTimeout = 2 * time.Second

// SendUDP sends n datagrams from src to dst, from a socket inside ns. src
// may have port 0 (any port) and an invalid address (any address). Each
// datagram carries "xdpchain N" as payload. It fails the test if a send
// fails.
func SendUDP(tb testing.TB, ns *NetNS, src, dst netip.AddrPort, n int) {
	tb.Helper()
	if err := sendUDP(ns, src, dst, n); err != nil {
		tb.Fatalf("sending %d UDP datagrams %s -> %s in %s: %v", n, src, dst, ns.Name, err)
	}
}

func sendUDP(ns *NetNS, src, dst netip.AddrPort, n int) error {
	conn, err := listenUDPIn(ns, src, dst.Addr().Is6())
	if err != nil {
		return err
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(dst)
	for i := range n {
		if err := conn.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
			return err
		}
		if _, err := conn.WriteToUDP(fmt.Appendf(nil, "xdpchain %d", i), to); err != nil {
			return fmt.Errorf("datagram %d: %w", i, err)
		}
	}
	return nil
}

// listenUDPIn opens a UDP socket bound to addr inside ns. An invalid addr
// means any address of the family (IPv6 if v6).
func listenUDPIn(ns *NetNS, addr netip.AddrPort, v6 bool) (*net.UDPConn, error) {
	network := "udp4"
	if addr.Addr().Is6() || (!addr.Addr().IsValid() && v6) {
		network = "udp6"
	}
	var laddr *net.UDPAddr
	if addr.Addr().IsValid() {
		laddr = net.UDPAddrFromAddrPort(addr)
	} else {
		laddr = &net.UDPAddr{Port: int(addr.Port())}
	}
	var conn *net.UDPConn
	err := ns.Do(func() error {
		var err error
		conn, err = net.ListenUDP(network, laddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening a UDP socket on %s in %s: %w", addr, ns.Name, err)
	}
	return conn, nil
}

// Receiver counts the UDP datagrams arriving at a socket inside a network
// namespace.
type Receiver struct {
	conn  *net.UDPConn
	addr  netip.AddrPort
	count atomic.Int64
	done  chan struct{}
	once  sync.Once
	err   error
}

// receiveBuffer is the socket receive buffer a Receiver asks for, so that
// bursts are counted rather than dropped by the socket.
const receiveBuffer = 8 << 20

// ListenUDP starts counting the datagrams sent to addr (port 0 picks one;
// see Receiver.Addr) from a socket inside ns. The socket is closed when the
// test ends.
func ListenUDP(tb testing.TB, ns *NetNS, addr netip.AddrPort) *Receiver {
	tb.Helper()
	conn, err := listenUDPIn(ns, addr, addr.Addr().Is6())
	if err != nil {
		tb.Fatal(err)
	}
	if err := SetReceiveBuffer(conn, receiveBuffer); err != nil {
		conn.Close()
		tb.Fatalf("setting the receive buffer: %v", err)
	}
	r := &Receiver{
		conn: conn,
		addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		done: make(chan struct{}),
	}
	go r.loop()
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("UDP receiver on %s: %v", r.addr, err)
		}
	})
	return r
}

// SetReceiveBuffer sets a socket's receive buffer to size bytes with
// SO_RCVBUFFORCE, past net.core.rmem_max (which SetReadBuffer obeys).
func SetReceiveBuffer(conn *net.UDPConn, size int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		// SO_RCVBUFFORCE goes past net.core.rmem_max (we are root).
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil {
		return err
	}
	return serr
}

func (r *Receiver) loop() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		_, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.err = err
			}
			return
		}
		r.count.Add(1)
	}
}

// Addr returns the address the receiver listens on.
func (r *Receiver) Addr() netip.AddrPort { return r.addr }

// Count returns the number of datagrams received so far.
func (r *Receiver) Count() int { return int(r.count.Load()) }

// WaitFor waits until at least n datagrams have arrived or timeout has
// passed, and returns the count.
func (r *Receiver) WaitFor(n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		c := r.Count()
		if c >= n || !time.Now().Before(deadline) {
			return c
		}
		select {
		case <-r.done:
			return r.Count()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Settle waits until no datagram has arrived for quiet (or timeout has
// passed) and returns the count: for tests that expect some datagrams to
// be dropped and must not stop counting too early.
func (r *Receiver) Settle(quiet, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	last, since := r.Count(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(quiet / 10)
		if c := r.Count(); c != last {
			last, since = c, time.Now()
		} else if time.Since(since) >= quiet {
			break
		}
	}
	return r.Count()
}

// Close stops the receiver; it is called when the test ends.
func (r *Receiver) Close() error {
	r.once.Do(func() {
		err := r.conn.Close()
		<-r.done
		r.err = errors.Join(r.err, err)
	})
	return r.err
}
