package dispatcher_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// seqReceiver records which sequence numbers ("seq N" payloads) arrived.
type seqReceiver struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen map[int]int
	done chan struct{}
	err  error
}

func newSeqReceiver(t *testing.T, ns *testutil.NetNS, addr netip.AddrPort) *seqReceiver {
	t.Helper()
	var conn *net.UDPConn
	if err := ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := testutil.SetReceiveBuffer(conn, 8<<20); err != nil {
		t.Fatalf("receive buffer: %v", err)
	}
	r := &seqReceiver{conn: conn, seen: map[int]int{}, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					r.err = err
				}
				return
			}
			seq, err := strconv.Atoi(strings.TrimPrefix(string(buf[:n]), "seq "))
			if err != nil {
				r.err = fmt.Errorf("unexpected payload %q", buf[:n])
				continue
			}
			r.mu.Lock()
			r.seen[seq]++
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-r.done })
	return r
}

func (r *seqReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// vethDrops is what an interface counted as dropped, both ways.
func vethDrops(t *testing.T, ns *testutil.NetNS, name string) uint64 {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return 0
	}
	return st.TxDropped + st.RxDropped
}

// udpRcvbufErrors is the UDP receive-buffer errors of a namespace
// (/proc/net/snmp, Udp RcvbufErrors).
func udpRcvbufErrors(t *testing.T, ns *testutil.NetNS) uint64 {
	t.Helper()
	var n uint64
	if err := ns.Do(func() error {
		b, err := os.ReadFile("/proc/net/snmp")
		if err != nil {
			return err
		}
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 || f[0] != "Udp:" {
				continue
			}
			if names == nil {
				names = f
				continue
			}
			for i, name := range names {
				if name == "RcvbufErrors" && i < len(f) {
					n, err = strconv.ParseUint(f[i], 10, 64)
					return err
				}
			}
		}
		return fmt.Errorf("no Udp RcvbufErrors in /proc/net/snmp")
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSwapUnderSequencedTraffic sends sequence-numbered UDP at a paced rate
// (at least 10 000 datagrams/s on the host) across a veth pair while the
// chain changes again and again (1000 changes on the host with the default
// mechanism), and accounts for every datagram: one that the chain drops by
// design (to dropport's port) is counted by dropport's drop counter, every
// other one arrives exactly once. A packet that met no chain or a half-built
// one would be missing or uncounted.
func TestSwapUnderSequencedTraffic(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		testutil.RequireRoot(t)
		changes, minRate, rate := 100, 0.0, 12000.0
		switch {
		case vmtest.InVM():
			// qemu/TCG: a swap takes 100s of ms, and a veth's ring
			// overflows long before 10 000 datagrams/s.
			changes, rate = 30, 2000
		case mech == dispatcher.Inline:
			changes, minRate = 1000, 10000
		default:
			minRate = 10000
		}
		nsA, nsB := testutil.NewNetNS(t), testutil.NewNetNS(t)
		pair := testutil.NewVethPair(t, nsA, nsB, nil)
		r, err := dispatcher.Attach(pair.B.Name, &dispatcher.Options{NetNS: nsB.Name, Mechanism: mech, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Detach(); r.Close() })

		drop := program(t, testprogs.DropPort, "dropport")
		always := program(t, testprogs.Counter, "always")
		always.Priority = 100
		base := dispatcher.Chain{drop, always}
		if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: base}); err != nil {
			t.Fatal(err)
		}
		pass := newSeqReceiver(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
		passAddr := pass.conn.LocalAddr().(*net.UDPAddr).AddrPort()
		dropAddr := netip.AddrPortFrom(pair.B.Addr4(), testprogs.DropPortDefault)
		dropRx := newSeqReceiver(t, nsB, dropAddr)
		dropBefore := programStats(t, r, "dropport")
		vethBefore := vethDrops(t, nsA, pair.A.Name) + vethDrops(t, nsB, pair.B.Name)
		rcvbufBefore := udpRcvbufErrors(t, nsB)

		// The sender: paced by elapsed time, so a slow moment is made up
		// for; every fourth datagram (seq%4 == 3) goes to the dropped port.
		sender := testutil.StartPacedUDP(t, nsA, int(rate), passAddr, passAddr, passAddr, dropAddr)

		// The changes: add a program, reorder, remove it, again.
		for i := range changes {
			_, err := r.Update(func(s *dispatcher.Spec) error {
				switch i % 3 {
				case 0:
					extra := program(t, testprogs.VerdictPass, "extra")
					extra.Priority = 50
					s.Programs = append(dispatcher.Chain{}, drop, extra, always)
				case 1:
					s.Programs[s.Programs.Index("extra")].Priority = 5 // before dropport
				default:
					s.Programs = base
				}
				return nil
			})
			if err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
		}
		sent64, elapsed := sender.Stop(t)
		sent := int(sent64)
		dropped := sent / 4 // seq 3, 7, 11, ... below sent
		want := sent - dropped
		deadline := time.Now().Add(30 * time.Second)
		for pass.count() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		dropStats := programStats(t, r, "dropport")
		achieved := float64(sent) / elapsed.Seconds()
		// What the veth pair itself dropped (its ring full, before any XDP
		// program saw the packet) is not the chain's.
		veth := vethDrops(t, nsA, pair.A.Name) + vethDrops(t, nsB, pair.B.Name) - vethBefore
		// Nor is what a full socket buffer refused (the receiver stalls
		// under qemu/TCG while a swap keeps the CPU busy).
		rcvbuf := udpRcvbufErrors(t, nsB) - rcvbufBefore
		t.Logf("%s: %d datagrams in %v (%.0f/s) during %d chain changes: %d received, %d dropped by dropport (counted %d), %d dropped by the veth pair, %d refused by a full socket buffer",
			mech, sent, elapsed.Round(time.Millisecond), achieved, changes, pass.count(), dropped, dropStats.Drop-dropBefore.Drop, veth, rcvbuf)

		pass.mu.Lock()
		var missing, twice []int
		for seq := range sent {
			if seq%4 == 3 {
				continue
			}
			switch pass.seen[seq] {
			case 0:
				missing = append(missing, seq)
			case 1:
			default:
				twice = append(twice, seq)
			}
		}
		pass.mu.Unlock()
		uncounted := uint64(dropped) - (dropStats.Drop - dropBefore.Drop)
		if uint64(len(missing))+uncounted > veth+rcvbuf || len(twice) > 0 || pass.err != nil {
			t.Errorf("%d datagrams missing (first %v) and %d sent to the dropped port not counted, more than the %d the veth pair dropped and the %d a full socket buffer refused; %d received more than once; receiver error %v",
				len(missing), missing[:min(10, len(missing))], uncounted, veth, rcvbuf, len(twice), pass.err)
			// Where did they go: the chain's counters, the UDP layer and
			// the backlog of the receiving side.
			for _, p := range status(t, r).Programs {
				t.Logf("program %s: %+v", p.Name, p.Stats)
			}
			t.Logf("fall-through: %d", status(t, r).FallthroughPackets)
			nsB.Do(func() error {
				b, _ := os.ReadFile("/proc/net/snmp")
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "Udp:") || strings.HasPrefix(l, "Ip:") {
						t.Logf("%s", l)
					}
				}
				return nil
			})
			b, _ := os.ReadFile("/proc/net/softnet_stat")
			t.Logf("softnet_stat:\n%s", b)
		}
		if n := dropRx.count(); n != 0 {
			t.Errorf("%d datagrams to the dropped port arrived", n)
		}
		if achieved < minRate {
			t.Errorf("the sender reached %.0f datagrams/s, want at least %.0f", achieved, minRate)
		}
		if !vmtest.InVM() && veth+rcvbuf != 0 {
			t.Errorf("on the host the veth pair dropped %d datagrams and the socket buffer refused %d", veth, rcvbuf)
		}
	})
}
