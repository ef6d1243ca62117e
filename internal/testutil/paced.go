package testutil

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// PacedSender sends numbered UDP datagrams ("seq N", N from 0) from a
// socket inside a network namespace at a steady rate until stopped: the
// traffic that tests of swaps, hand-overs and upgrades run under.
type PacedSender struct {
	sent  atomic.Int64
	quit  chan struct{}
	done  chan struct{}
	begin time.Time
	end   time.Time // read once done is closed
	err   error     // read once done is closed
}

// pacedBatch bounds the datagrams sent between two looks at the clock and
// at Stop, so that a sender behind its schedule still stops promptly.
const pacedBatch = 500

// StartPacedUDP starts sending perSecond datagrams a second from an
// unbound socket inside ns (unconnected, so that the port-unreachable
// answers of a port nobody listens on do not fail later sends). Datagram N
// goes to dsts[N % len(dsts)]. The rate is paced by elapsed time: a slow
// moment is made up for. The sender stops when the test ends, if not
// before.
func StartPacedUDP(tb testing.TB, ns *NetNS, perSecond int, dsts ...netip.AddrPort) *PacedSender {
	tb.Helper()
	if len(dsts) == 0 || perSecond <= 0 {
		tb.Fatalf("StartPacedUDP: %d destinations at %d/s", len(dsts), perSecond)
	}
	conn, err := listenUDPIn(ns, netip.AddrPort{}, dsts[0].Addr().Is6())
	if err != nil {
		tb.Fatal(err)
	}
	s := &PacedSender{quit: make(chan struct{}), done: make(chan struct{}), begin: time.Now()}
	go func() {
		defer close(s.done)
		defer conn.Close()
		for {
			select {
			case <-s.quit:
				s.end = time.Now()
				return
			default:
			}
			due := int64(time.Since(s.begin).Seconds()*float64(perSecond)) - s.sent.Load()
			for range min(due, pacedBatch) {
				seq := s.sent.Load()
				to := dsts[seq%int64(len(dsts))]
				if _, err := conn.WriteToUDPAddrPort(fmt.Appendf(nil, "seq %d", seq), to); err != nil {
					s.err = fmt.Errorf("datagram %d to %s: %w", seq, to, err)
					s.end = time.Now()
					return
				}
				s.sent.Add(1)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	tb.Cleanup(s.halt)
	return s
}

// halt stops the sender and waits for it.
func (s *PacedSender) halt() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

// Sent returns how many datagrams have been sent so far.
func (s *PacedSender) Sent() int64 { return s.sent.Load() }

// pacedWait bounds WaitSent (generous: a loaded machine, or qemu).
const pacedWait = time.Minute

// WaitSent waits until n datagrams have been sent. It fails the test if a
// send fails or n are not sent within a minute.
func (s *PacedSender) WaitSent(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(pacedWait)
	for s.sent.Load() < n {
		select {
		case <-s.done:
			tb.Fatalf("the sender stopped after %d datagrams: %v", s.sent.Load(), s.err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the sender sent %d of %d datagrams in %v", s.sent.Load(), n, pacedWait)
		}
	}
}

// Stop stops the sender and returns how many datagrams it sent and over
// how long. It fails the test if a send failed.
func (s *PacedSender) Stop(tb testing.TB) (sent int64, elapsed time.Duration) {
	tb.Helper()
	s.halt()
	if s.err != nil {
		tb.Fatalf("sender: %v", s.err)
	}
	return s.sent.Load(), s.end.Sub(s.begin)
}
