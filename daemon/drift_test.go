package daemon_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// openRoot opens the managed interface's root from outside the daemon, as
// the CLI would.
func (f *fixture) openRoot() (*dispatcher.Root, error) {
	return dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
}

// detachRoot detaches the managed interface's root on the pins, from
// outside the daemon.
func (f *fixture) detachRoot() {
	f.t.Helper()
	r, err := f.openRoot()
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	if err := r.Detach(); err != nil {
		f.t.Fatal(err)
	}
}

// rootStatus returns the managed interface's status read from its pins, or
// an error (wrapping dispatcher.ErrNotAttached when there is no root).
func (f *fixture) rootStatus() (*dispatcher.InterfaceStatus, error) {
	r, err := f.openRoot()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Status()
}

// waitHealed polls until the managed interface has a root on ifindex whose
// chain is want (names in slot order), other than the link notLink, and
// returns its status.
func (f *fixture) waitHealed(ifindex int, notLink uint32, want string, within time.Duration) *dispatcher.InterfaceStatus {
	f.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		st, err := f.rootStatus()
		if err == nil {
			var names []string
			for _, p := range st.Programs {
				names = append(names, p.Name)
			}
			got := strings.Join(names, " ")
			if st.Ifindex == ifindex && st.LinkID != notLink && got == want {
				return st
			}
			last = fmt.Sprintf("ifindex %d, link %d, chain %q", st.Ifindex, st.LinkID, got)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("chain not re-applied within %v; last: %s", within, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hits reads the counter program's own count (element 0 of its "hits" map)
// on the managed interface.
func (f *fixture) hits() uint64 {
	f.t.Helper()
	r, err := f.openRoot()
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	maps, err := r.ProgramMaps("count")
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := ebpf.LoadPinnedMap(maps["hits"], nil)
	if err != nil {
		f.t.Fatal(err)
	}
	defer m.Close()
	var n uint64
	if err := m.Lookup(uint32(0), &n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// expectCounted checks that n IPv4 datagrams arrive and that the counter
// program saw each of them, in its map and in the dispatcher's counters.
func (f *fixture) expectCounted() {
	f.t.Helper()
	const n = 20
	before, st0 := f.hits(), f.programStats("count")
	if got := f.deliver(false, n); got != n {
		f.t.Errorf("IPv4: %d of %d datagrams arrived, want all", got, n)
	}
	after, st1 := f.hits(), f.programStats("count")
	if after-before < n {
		f.t.Errorf("the counter program counted %d packets for %d datagrams", after-before, n)
	}
	if st1.Pass-st0.Pass < n {
		f.t.Errorf("the dispatcher counted %d passes of the counter program for %d datagrams", st1.Pass-st0.Pass, n)
	}
}

func (f *fixture) programStats(name string) dispatcher.Stats {
	f.t.Helper()
	st, err := f.rootStatus()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range st.Programs {
		if p.Name == name {
			return p.Stats
		}
	}
	f.t.Fatalf("no program %s in chain", name)
	return dispatcher.Stats{}
}

// expectHealed checks a re-attached root (st, from the pins): native mode
// as configured, the daemon's status showing chain, the heal logged with
// reason, and the counter program counting traffic.
func (f *fixture) expectHealed(st *dispatcher.InterfaceStatus, chain, reason string) {
	f.t.Helper()
	if st.Mode != dispatcher.ModeNative {
		f.t.Errorf("re-attached in %s mode, want native", st.Mode)
	}
	if got := f.chain(); got != chain {
		f.t.Errorf("daemon status: chain %q, want %q", got, chain)
	}
	if !strings.Contains(f.logs.String(), fmt.Sprintf("reason=%q", reason)) {
		f.t.Errorf("no heal logged with reason %q", reason)
	}
	f.expectCounted()
}

// TestDriftInterfaceRecreated deletes the managed veth pair under a running
// daemon and creates it again with the same names: link events alone (the
// periodic check is off) bring the chain back on the new ifindex, with the
// config's program counting traffic and the plugin, whose process kept
// running, filtering again through its new maps.
func TestDriftInterfaceRecreated(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", countConfig(0)+guardConfig(10, `"%[3]s"`))
	f.start(daemon.Options{DriftInterval: -1})
	f.expectTraffic(true)
	f.expectCounted()
	guard := f.plugin("guard")
	if got, want := f.chain(), "guard(plugin:guard) count(config:count)"; got != want {
		t.Fatalf("chain %q, want %q", got, want)
	}
	old := f.pair

	// Delete the pair (deleting one end removes both).
	h, err := netlink.NewHandleAt(f.send.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(old.A.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(f.logs.String(), "interface is gone") {
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not notice the interface went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := f.rootStatus(); err == nil {
		t.Fatal("a root is reported on a deleted interface")
	}

	// Create it again: a new ifindex, the same names and addresses.
	f.pair = testutil.NewVethPair(t, f.send, f.recv, &testutil.VethOptions{
		NameA: old.A.Name, NameB: old.B.Name,
		IPv4A: old.A.IPv4, IPv4B: old.B.IPv4,
		IPv6A: old.A.IPv6, IPv6B: old.B.IPv6,
	})
	testutil.AddNeighbours(t, f.pair)
	if f.pair.B.Index == old.B.Index {
		t.Fatalf("the re-created interface has the old ifindex %d", old.B.Index)
	}
	st := f.waitHealed(f.pair.B.Index, 0, "guard count", 20*time.Second)
	f.expectHealed(st, "guard(plugin:guard) count(config:count)", "interface created again")
	// The plugin's new maps hold its settings again: A's IPv6 is dropped.
	f.expectTraffic(true)
	if p := f.plugin("guard"); p.PID != guard.PID || p.State != api.StateRunning {
		t.Errorf("plugin after the heal: pid %d state %s, want pid %d running", p.PID, p.State, guard.PID)
	}
}

// TestDriftRootDetached detaches the daemon's root from outside, as
// `xdpchain detach` does: the periodic check attaches it again with the
// daemon's chain, which serves and counts traffic. It then leaves a root in
// place alone, and puts back the daemon's program when it is removed from
// outside.
func TestDriftRootDetached(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", countConfig(0))
	f.start(daemon.Options{DriftInterval: 100 * time.Millisecond})
	f.expectCounted()
	before, err := f.rootStatus()
	if err != nil {
		t.Fatal(err)
	}

	f.detachRoot()

	st := f.waitHealed(before.Ifindex, before.LinkID, "count", 20*time.Second)
	f.expectHealed(st, "count(config:count)", "root detached from outside")

	// A root in place is left alone: no further swaps.
	time.Sleep(300 * time.Millisecond)
	again, err := f.rootStatus()
	if err != nil {
		t.Fatal(err)
	}
	if again.LinkID != st.LinkID || again.DispatcherID != st.DispatcherID {
		t.Errorf("the periodic check changed a root in place: link %d->%d, dispatcher %d->%d", st.LinkID, again.LinkID, st.DispatcherID, again.DispatcherID)
	}
	if n := strings.Count(f.logs.String(), "chain re-applied"); n != 1 {
		t.Errorf("%d heals logged, want 1", n)
	}

	// The daemon's program removed through the pins, bypassing the daemon,
	// while the root stays: the check puts it back with one swap.
	r, err := f.openRoot()
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = dispatcher.Chain{}
		return nil
	})
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	back := f.waitHealed(st.Ifindex, 0, "count", 20*time.Second)
	if back.LinkID != st.LinkID {
		t.Errorf("healing a root in place replaced its link: %d -> %d", st.LinkID, back.LinkID)
	}
	f.expectHealed(back, "count(config:count)", "chain drifted")
}

// TestDriftExternalDetachUnderTraffic detaches the daemon's root with
// `xdpchain --no-daemon detach` while datagrams flow to a port the chain
// drops. With the periodic check and link events off, the root watch
// notices (the kernel sends no event for a bpf_link's detach) and the
// chain is back within 2 s; the datagrams that went through unfiltered in
// between are counted and reported, beside the window the daemon
// measured; once repaired, nothing gets through again.
func TestDriftExternalDetachUnderTraffic(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(metricsConfig, "\n[[program]]\nname = \"block\"\nobject = \"dropport.o\"\ninterfaces = [\"%[1]s\"]\n")
	f.start(daemon.Options{DriftInterval: -1, NoLinkEvents: true})
	before, err := f.rootStatus()
	if err != nil {
		t.Fatal(err)
	}
	blocked := netip.AddrPortFrom(f.pair.B.Addr4(), 9999) // dropport's port
	rcv := testutil.ListenUDP(t, f.recv, blocked)
	defer rcv.Close()
	testutil.SendUDP(t, f.send, netip.AddrPortFrom(f.pair.A.Addr4(), 0), blocked, 50)
	if got := rcv.Settle(150*time.Millisecond, 3*time.Second); got != 0 {
		t.Fatalf("%d of 50 datagrams to the blocked port arrived before the detach", got)
	}

	// Traffic: batches until stopped.
	stop, sent := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			testutil.SendUDP(t, f.send, netip.AddrPortFrom(f.pair.A.Addr4(), 0), blocked, 10)
			n += 10
			time.Sleep(time.Millisecond)
		}
	}()
	_, errOut, err := testutil.RunXDPChain(t, testutil.XDPChainBinary(t), "--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.state, "detach", "--netns", f.recv.Name, f.iface())
	if err != nil {
		close(stop)
		<-sent
		t.Fatalf("xdpchain --no-daemon detach: %v\n%s", err, errOut)
	}
	detached := time.Now()
	var st *dispatcher.InterfaceStatus
	for {
		if s, err := f.rootStatus(); err == nil && s.LinkID != before.LinkID && len(s.Programs) == 1 {
			st = s
			break
		}
		if time.Since(detached) > 20*time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	repaired := time.Since(detached)
	// Traffic goes on after the repair: once what passed before it is
	// delivered (the count settles while the sender keeps sending), none
	// of it may arrive.
	afterRepair := rcv.Settle(150*time.Millisecond, 5*time.Second)
	testutil.SendUDP(t, f.send, netip.AddrPortFrom(f.pair.A.Addr4(), 0), blocked, 50)
	close(stop)
	total := <-sent + 50
	unfiltered := rcv.Settle(150*time.Millisecond, 3*time.Second)
	if st == nil {
		t.Fatalf("the chain was not back within 20s of the detach (%d datagrams unfiltered)", unfiltered)
	}
	window := "?"
	if m := regexp.MustCompile(`unprotected_at_most=(\S+)`).FindStringSubmatch(f.logs.String()); m != nil {
		window = m[1]
	}
	t.Logf("external detach repaired %v after the detach command returned (the daemon measured an unprotected window of at most %s); %d of %d datagrams to the blocked port went through unfiltered",
		repaired.Round(time.Millisecond), window, unfiltered, total)
	if repaired > 2*time.Second {
		t.Errorf("the chain was back %v after the detach, want within 2s", repaired)
	}
	if unfiltered != afterRepair {
		t.Errorf("%d datagrams arrived after the repair (%d before it), want none", unfiltered-afterRepair, afterRepair)
	}
	if window == "?" || !strings.Contains(f.logs.String(), "root detached from outside; re-attaching") {
		t.Errorf("the daemon did not report the detach and its window")
	}
	if v, ok := sample(f.scrape(), "xdpchain_drift_unprotected_seconds", nil); !ok || v != 1 {
		t.Errorf("xdpchain_drift_unprotected_seconds has %v observations (present %v), want 1", v, ok)
	}
	if got := f.chain(); got != "block(config:block)" || !strings.Contains(f.logs.String(), `reason="root detached from outside"`) {
		t.Errorf("after the repair: chain %q, want block(config:block), healed with reason \"root detached from outside\"", got)
	}
}
