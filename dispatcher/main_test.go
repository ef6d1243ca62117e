package dispatcher_test

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testenv"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestMain fails the run when the tests leak file descriptors (a Root,
// map or program left open). Without root the Examples, which attach to a
// real interface, are left out.
func TestMain(m *testing.M) {
	if job := os.Getenv(envCrashChild); job != "" {
		os.Exit(crashChild(job))
	}
	flag.Parse()
	if os.Geteuid() != 0 && os.Getenv(testenv.Test) == "" && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "not root: running the tests only (privileged ones skip), not the Examples")
		flag.Set("test.run", "^Test")
	}
	os.Exit(testutil.RunWithFDCheck(m))
}

// Ports of the traffic tests: dropport drops dropPort, everything else
// passes.
const (
	dropPort = testprogs.DropPortDefault
	passPort = 7777
)

// fixture is a veth pair between two network namespaces the test creates:
// traffic goes from the sender end (A) to the receiver end (B), which
// carries the root. Pins go to a bpffs mounted for the test alone and state
// to a temporary directory, so tests see only their own roots.
type fixture struct {
	mech     dispatcher.Mechanism
	send     *testutil.NetNS // namespace of end A
	recv     *testutil.NetNS // namespace of end B, the root's interface
	pair     *testutil.VethPair
	bpffs    string
	stateDir string
}

// newFixture builds the namespaces, the pair and permanent neighbour
// entries on both sides (no ARP or neighbour discovery through the chain,
// so what a test sends is what the chain sees, and dropped traffic stays
// sendable). Roots left attached are detached when the test ends.
func newFixture(t *testing.T, mech dispatcher.Mechanism) *fixture {
	t.Helper()
	testutil.RequireRoot(t)
	f := &fixture{mech: mech, bpffs: testutil.PrivateBPFFS(t), stateDir: t.TempDir()}
	f.send = testutil.NewNetNS(t)
	f.recv = testutil.NewNetNS(t)
	f.pair = testutil.NewVethPair(t, f.send, f.recv, nil)
	testutil.AddNeighbours(t, f.pair)
	t.Cleanup(func() { detachIfAttached(t, f.iface(), f.opts()) })
	return f
}

// detachIfAttached removes a root a test left behind.
func detachIfAttached(t *testing.T, ifname string, opts *dispatcher.Options) {
	r, err := dispatcher.Open(ifname, opts)
	if err != nil {
		return
	}
	defer r.Close()
	if err := r.Detach(); err != nil {
		t.Errorf("cleaning up the root of %s: %v", ifname, err)
	}
}

// iface is the name of the root's interface (end B).
func (f *fixture) iface() string { return f.pair.B.Name }

// opts are the Options that locate the fixture's root.
func (f *fixture) opts() *dispatcher.Options {
	return &dispatcher.Options{
		NetNS:        f.recv.Name,
		BPFFS:        f.bpffs,
		StateDir:     f.stateDir,
		Mechanism:    f.mech,
		VerifierLogs: true,
	}
}

// attach attaches (or opens) the root of end B; the handle is closed when
// the test ends.
func (f *fixture) attach(t *testing.T) *dispatcher.Root {
	t.Helper()
	r, err := dispatcher.Attach(f.iface(), f.opts())
	if err != nil {
		t.Fatalf("attaching to %s: %v", f.iface(), err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// cliArgs are the global flags that point the CLI at the fixture's pins.
func (f *fixture) cliArgs() []string {
	return []string{"--bpffs", f.bpffs, "--state-dir", f.stateDir, "--netns", f.recv.Name}
}

// addr is end B's address of one family with port.
func (f *fixture) addr(v6 bool, port uint16) netip.AddrPort {
	if v6 {
		return netip.AddrPortFrom(f.pair.B.Addr6(), port)
	}
	return netip.AddrPortFrom(f.pair.B.Addr4(), port)
}

// udp sends n datagrams from A to B's port and returns how many arrived.
// When all are expected it waits for them; in any case it then waits for a
// quiet spell, so that "none arrived" is measured, not guessed.
func (f *fixture) udp(t *testing.T, v6 bool, port uint16, n int, expectAll bool) int {
	t.Helper()
	rx := testutil.ListenUDP(t, f.recv, f.addr(v6, port))
	testutil.SendUDP(t, f.send, netip.AddrPort{}, rx.Addr(), n)
	if expectAll {
		rx.WaitFor(n, 5*time.Second)
	}
	got := rx.Settle(150*time.Millisecond, 3*time.Second)
	rx.Close()
	return got
}

// expectUDP sends n datagrams and fails the test unless all arrive (pass)
// or none do.
func (f *fixture) expectUDP(t *testing.T, v6 bool, port uint16, n int, pass bool) {
	t.Helper()
	got := f.udp(t, v6, port, n, pass)
	want := 0
	if pass {
		want = n
	}
	if got != want {
		t.Errorf("UDP to %s: %d of %d datagrams arrived, want %d", f.addr(v6, port), got, n, want)
	}
}

// expectServing checks that a counter+dropport chain still works: the drop
// port is dropped and another port passes, over IPv4 and IPv6.
func (f *fixture) expectServing(t *testing.T) {
	t.Helper()
	for _, v6 := range []bool{false, true} {
		f.expectUDP(t, v6, passPort, 5, true)
		f.expectUDP(t, v6, dropPort, 5, false)
	}
}

// program describes a test object as a chain entry with the object's
// declared defaults.
func program(t *testing.T, object, name string) dispatcher.Program {
	t.Helper()
	p, err := dispatcher.NewProgram(name, testprogs.Object(object), testprogs.Program(object))
	if err != nil {
		t.Fatalf("describing %s as %q: %v", object, name, err)
	}
	return p
}

// add appends programs to the chain of r in one Update.
func add(t *testing.T, r *dispatcher.Root, progs ...dispatcher.Program) {
	t.Helper()
	_, err := r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, progs...)
		return nil
	})
	if err != nil {
		t.Fatalf("adding %d program(s): %v", len(progs), err)
	}
}

// remove takes programs out of the chain of r in one Update.
func remove(t *testing.T, r *dispatcher.Root, names ...string) {
	t.Helper()
	_, err := r.Update(func(s *dispatcher.Spec) error {
		for _, n := range names {
			i := s.Programs.Index(n)
			if i < 0 {
				return fmt.Errorf("%s not in the chain", n)
			}
			s.Programs = append(s.Programs[:i], s.Programs[i+1:]...)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("removing %v: %v", names, err)
	}
}

// status returns the status of r, failing the test on error.
func status(t *testing.T, r *dispatcher.Root) *dispatcher.InterfaceStatus {
	t.Helper()
	st, err := r.Status()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// names lists the programs of a status in slot order, checking that the
// slots are numbered 0, 1, ...
func names(t *testing.T, st *dispatcher.InterfaceStatus) []string {
	t.Helper()
	out := []string{}
	for i, p := range st.Programs {
		if p.Slot != i {
			t.Errorf("program %s at position %d reports slot %d", p.Name, i, p.Slot)
		}
		out = append(out, p.Name)
	}
	return out
}

// baseline attaches a root and loads the reference chain: dropport
// (priority 10, drops dropPort) then counter (priority 50, passes).
func baseline(t *testing.T, f *fixture) *dispatcher.Root {
	t.Helper()
	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "counter"), program(t, testprogs.DropPort, "dropport"))
	return r
}

// xdpOf returns what netlink reports attached to an interface of a
// namespace (nil when nothing is).
func xdpOf(t *testing.T, ns *testutil.NetNS, ifname string) *netlink.LinkXdp {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatalf("netlink in %s: %v", ns.Name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		t.Fatalf("interface %s in %s: %v", ifname, ns.Name, err)
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return nil
	}
	return x
}

// runBin runs the xdpchain binary and returns its stdout, stderr and exit
// code.
func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, err := testutil.RunXDPChain(t, testutil.XDPChainBinary(t), args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running xdpchain %v: %v", args, err)
	}
	return stdout, stderr, code
}
