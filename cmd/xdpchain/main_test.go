package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }

// cli is a veth pair between two namespaces the test creates, with the
// receiving end (B) as the interface the commands manage, and a bpffs and
// state directory of the test's own. Commands run in-process through run.
type cli struct {
	mech     dispatcher.Mechanism
	send     *testutil.NetNS
	recv     *testutil.NetNS
	pair     *testutil.VethPair
	bpffs    string
	stateDir string
	objects  string // directory with the test objects as NAME.o
}

func newCLI(t *testing.T, mech dispatcher.Mechanism) *cli {
	t.Helper()
	testutil.RequireRoot(t)
	c := &cli{mech: mech, bpffs: testutil.PrivateBPFFS(t), stateDir: t.TempDir(), objects: t.TempDir()}
	c.send = testutil.NewNetNS(t)
	c.recv = testutil.NewNetNS(t)
	c.pair = testutil.NewVethPair(t, c.send, c.recv, nil)
	// Permanent neighbours: no ARP through the chain, dropped traffic
	// stays sendable.
	testutil.AddNeighbour(t, c.pair.A, c.pair.B)
	for _, name := range testprogs.Names() {
		if _, err := testprogs.WriteFile(c.objects, name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { c.run(t, "detach", "--netns", c.recv.Name, c.iface()) })
	return c
}

func (c *cli) iface() string { return c.pair.B.Name }

// obj is the path of a test object.
func (c *cli) obj(name string) string { return c.objects + "/" + name + ".o" }

// run runs one command line in-process with the test's bpffs and state
// directory, and returns its exit status and output.
func (c *cli) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLI(t, append([]string{"--bpffs", c.bpffs, "--state-dir", c.stateDir}, args...)...)
}

// mustRun runs a command that must succeed.
func (c *cli) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := c.run(t, args...)
	if code != 0 {
		t.Fatalf("xdpchain %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// mustFail runs a command that must fail with exit status 1 and a
// one-line error that starts with "xdpchain: "; it returns that line.
func (c *cli) mustFail(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := c.run(t, args...)
	if code != 1 {
		t.Fatalf("xdpchain %s: exit %d, want 1 (stdout %q, stderr %q)", strings.Join(args, " "), code, out, errOut)
	}
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "xdpchain: ") {
		t.Errorf("xdpchain %s: stderr is not one \"xdpchain: ...\" line: %q", strings.Join(args, " "), errOut)
	}
	if strings.Contains(lines[0], `program ""`) {
		t.Errorf("xdpchain %s: the error names a program without a name: %q", strings.Join(args, " "), lines[0])
	}
	return lines[0]
}

// status returns `status --json IFACE` decoded into generic JSON values, so
// that tests see the document's keys as printed.
func (c *cli) status(t *testing.T) map[string]any {
	t.Helper()
	out := c.mustRun(t, "status", "--json", "--netns", c.recv.Name, c.iface())
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	itfs, _ := doc["interfaces"].([]any)
	if len(itfs) != 1 {
		t.Fatalf("status --json IFACE lists %d interfaces:\n%s", len(itfs), out)
	}
	return itfs[0].(map[string]any)
}

// programs returns the programs of a status entry.
func programs(itf map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := itf["programs"].([]any)
	for _, p := range list {
		out = append(out, p.(map[string]any))
	}
	return out
}

// udp sends n datagrams from A to B's IPv4 address and port and returns how
// many arrived.
func (c *cli) udp(t *testing.T, port uint16, n int, expectAll bool) int {
	t.Helper()
	rx := testutil.ListenUDP(t, c.recv, netip.AddrPortFrom(c.pair.B.Addr4(), port))
	testutil.SendUDP(t, c.send, netip.AddrPort{}, rx.Addr(), n)
	if expectAll {
		rx.WaitFor(n, 5*time.Second)
	}
	got := rx.Settle(150*time.Millisecond, 3*time.Second)
	rx.Close()
	return got
}

// xdpProgID is the program netlink reports on the interface (0: none).
func (c *cli) xdpProgID(t *testing.T) uint32 {
	t.Helper()
	h, err := netlink.NewHandleAt(c.recv.Handle())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(c.iface())
	if err != nil {
		t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		return x.ProgId
	}
	return 0
}

// num reads a JSON number.
func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Errorf("key %q: %v (%T), want a number", key, m[key], m[key])
	}
	return v
}
