package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// libxdpXSKProg is libxdp's own AF_XDP redirect program, as Debian's
// xdp-tools/libxdp ship it.
const libxdpXSKProg = "/usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o"

// TestXSKBuiltin: the built-in AF_XDP program after a port filter. A libxdp
// AF_XDP socket (copy mode, no program of its own) registered in the
// program's pinned XSKMAP receives exactly the datagrams the filter
// passed, the counters agree with what it received, packets pass on while
// no socket is bound, and chain changes while it receives lose nothing.
func TestXSKBuiltin(t *testing.T) {
	recv := buildXSKRecv(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns, m := c.recv.Name, string(mech)
		c.mustRun(t, "load", "--netns", ns, "--mechanism", m, c.iface(), c.obj(testprogs.DropPort)) // port 9999, priority 10
		out := c.mustRun(t, "load", "--xsk", "--netns", ns, c.iface())
		if !strings.Contains(out, `loaded "xsk"`) {
			t.Errorf("load --xsk says %q", out)
		}
		xskmap := xskMapOf(t, c, "xsk")
		if want := filepath.Join(c.bpffs, "xdpchain"); !strings.HasPrefix(xskmap, want) {
			t.Errorf("xskmap %s is not under %s", xskmap, want)
		}
		text := c.mustRun(t, "status", "--netns", ns, c.iface())
		if !strings.Contains(text, "(xsk) xskmap "+xskmap) {
			t.Errorf("status does not show the xskmap:\n%s", text)
		}

		// No socket on the queue: the packet goes on (XDP_PASS).
		if got := c.udp(t, 7000, 50, true); got != 50 {
			t.Errorf("no socket bound: %d of 50 datagrams reached the UDP socket, want all", got)
		}

		app := startXSKApp(t, recv, c.recv, c.iface(), xskmap)
		filteredToSocket(t, c, app, "xsk", 200, 300)

		// Chain changes while the socket receives: every datagram arrives
		// exactly once.
		var sent atomic.Int64
		stop := make(chan struct{})
		senderDone := make(chan error, 1)
		go func() { senderDone <- app.paced(c, 7002, &sent, stop) }()
		defer func() {
			select {
			case <-stop:
			default:
				close(stop)
				<-senderDone
			}
		}()
		for i := range 10 {
			c.mustRun(t, "load", "--netns", ns, "--name", "extra", "--priority", fmt.Sprint(20+i), "--replace", c.iface(), c.obj(testprogs.Counter))
			c.mustRun(t, "unload", "--netns", ns, "--name", "extra", c.iface())
		}
		close(stop)
		if err := <-senderDone; err != nil {
			t.Fatal(err)
		}
		n := int(sent.Load())
		app.waitPort(t, 7002, n)
		app.checkExactlyOnce(t, 7002, n)
		t.Logf("%s: %d datagrams during 20 chain changes, each received once", mech, n)
		if exit := app.stop(t); exit != app.frames() {
			t.Errorf("xskrecv reports %d frames at exit, printed %d", exit, app.frames())
		}
	})
}

// TestXSKOwnProgram: an application's own redirect program (libxdp's
// xsk_def_xdp_prog) in the chain, the application putting its socket into
// that program's XSKMAP through the pin status shows.
func TestXSKOwnProgram(t *testing.T) {
	if !fileExists(libxdpXSKProg) {
		t.Skipf("%s is missing: install Debian's libxdp1 (xdp-tools)", libxdpXSKProg)
	}
	recv := buildXSKRecv(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		c.mustRun(t, "load", "--netns", ns, "--name", "app", c.iface(), libxdpXSKProg)
		xskmap := xskMapOf(t, c, "app")
		if !strings.HasSuffix(xskmap, "/maps/app/xsks_map") {
			t.Errorf("xskmap of libxdp's program is %s, want its xsks_map", xskmap)
		}
		app := startXSKApp(t, recv, c.recv, c.iface(), xskmap)
		filteredToSocket(t, c, app, "app", 100, 250)
		app.stop(t)
	})
}

// filteredToSocket sends drop datagrams to dropport's port 9999 and pass
// to port 7001: the socket receives exactly the pass ones, dropport counts
// the drop ones, and every frame the redirecting program xsk counted is
// one the socket received (the veth's IPv6 neighbour discovery included).
func filteredToSocket(t *testing.T, c *cli, app *xskApp, xsk string, drop, pass int) {
	t.Helper()
	testutil.SendUDP(t, c.send, netip.AddrPort{}, netip.AddrPortFrom(c.pair.B.Addr4(), 9999), drop)
	testutil.SendUDP(t, c.send, netip.AddrPort{}, netip.AddrPortFrom(c.pair.B.Addr4(), 7001), pass)
	app.waitPort(t, 7001, pass)
	app.checkExactlyOnce(t, 7001, pass)
	if n := app.port(9999); n != 0 {
		t.Errorf("the socket received %d datagrams the filter dropped", n)
	}
	if d := programStats(t, c, "dropport")["drop"]; d != float64(drop) {
		t.Errorf("dropport dropped %v, want %d", d, drop)
	}
	waitCond(t, "the "+xsk+" program's redirect count to equal the frames received", func() (bool, string) {
		r := programStats(t, c, xsk)["redirect"]
		return r == float64(app.frames()), fmt.Sprintf("redirect %v, received %d", r, app.frames())
	})
}

// xskRecvBuilt is where buildXSKRecv leaves the application for the VM
// runs (ignored by git; the VM harness copies testdata directories into
// its guests, which have no compiler).
const xskRecvBuilt = "testdata/build/xskrecv"

// buildXSKRecv compiles testdata/xsk/xskrecv.c, statically, against
// Debian's libxdp and libbpf, or in a VM finds what the host run built;
// else it skips saying what is missing.
func buildXSKRecv(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	if vmtest.InVM() {
		bin, err := filepath.Abs(xskRecvBuilt)
		if err == nil && fileExists(bin) {
			return bin
		}
		t.Skipf("the AF_XDP test application is built by this test's host run into %s (make test runs it before the VMs)", xskRecvBuilt)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("no C compiler to build the libxdp AF_XDP test application (install gcc, libxdp-dev, libbpf-dev): %v", err)
	}
	if !fileExists("/usr/include/xdp/xsk.h") {
		t.Skip("no /usr/include/xdp/xsk.h: install libxdp-dev and libbpf-dev to build the AF_XDP test application")
	}
	src, err := filepath.Abs("../../testdata/xsk/xskrecv.c")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(xskRecvBuilt), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := filepath.Abs(xskRecvBuilt)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O2", "-Wall", "-Werror", "-static", "-o", bin+".tmp", src, "-lxdp", "-lbpf", "-lelf", "-lz").CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// xskMapOf returns the xskmap status shows for program name.
func xskMapOf(t *testing.T, c *cli, name string) string {
	t.Helper()
	for _, p := range programs(c.status(t)) {
		if p["name"] == name {
			m, _ := p["xskmap"].(string)
			if m == "" {
				t.Fatalf("status shows no xskmap for %s: %v", name, p)
			}
			if _, err := os.Stat(m); err != nil {
				t.Fatalf("xskmap of %s: %v", name, err)
			}
			return m
		}
	}
	t.Fatalf("no program %s in status", name)
	return ""
}

// programStats returns the counters of one program from status --json.
func programStats(t *testing.T, c *cli, name string) map[string]float64 {
	t.Helper()
	for _, p := range programs(c.status(t)) {
		if p["name"] == name {
			out := map[string]float64{}
			stats, _ := p["stats"].(map[string]any)
			for k, v := range stats {
				out[k], _ = v.(float64)
			}
			return out
		}
	}
	t.Fatalf("no program %s in status", name)
	return nil
}

// waitCond polls cond until it holds, or fails the test after a deadline
// generous for a loaded machine.
func waitCond(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// xskApp is a running xskrecv: the frames it printed.
type xskApp struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	seen  map[string]int // "PORT PAYLOAD" -> times
	ports map[string]int
	total int
	exit  chan int
	dead  chan error
}

// startXSKApp runs xskrecv in ns on iface's queue 0 with the XSKMAP pin
// xskmap (nsenter keeps the test's mounts, where the private bpffs is),
// and waits until its socket is in the map.
func startXSKApp(t *testing.T, bin string, ns *testutil.NetNS, iface, xskmap string) *xskApp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+ns.Path, bin, iface, "0", xskmap)
	a := &xskApp{cmd: cmd, seen: map[string]int{}, ports: map[string]int{}, exit: make(chan int, 1), dead: make(chan error, 1)}
	var err error
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			a.line(sc.Text(), ready)
		}
		a.dead <- cmd.Wait()
	}()
	t.Cleanup(func() {
		a.stdin.Close()
		cancel()
	})
	select {
	case <-ready:
	case err := <-a.dead:
		t.Fatalf("xskrecv exited before its socket was ready: %v: %s", err, stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("xskrecv not ready after a minute: %s", stderr.String())
	}
	return a
}

func (a *xskApp) line(s string, ready chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case s == "ready":
		close(ready)
	case strings.HasPrefix(s, "exit "):
		var n int
		fmt.Sscanf(s, "exit %d", &n)
		a.exit <- n
	case strings.HasPrefix(s, "pkt "):
		a.total++
		f := strings.SplitN(s, " ", 4)
		if len(f) == 4 && f[2] != "-" {
			a.seen[f[2]+" "+f[3]]++
			a.ports[f[2]]++
		}
	}
}

func (a *xskApp) frames() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

func (a *xskApp) port(p int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ports[fmt.Sprint(p)]
}

func (a *xskApp) waitPort(t *testing.T, p, n int) {
	t.Helper()
	waitCond(t, fmt.Sprintf("%d datagrams to port %d at the AF_XDP socket", n, p), func() (bool, string) {
		got := a.port(p)
		return got >= n, fmt.Sprintf("%d received", got)
	})
}

// checkExactlyOnce: payloads "xdpchain 0".."xdpchain n-1" to port p, each
// received once, nothing else to that port.
func (a *xskApp) checkExactlyOnce(t *testing.T, p, n int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	missing, dup := 0, 0
	for i := range n {
		switch a.seen[fmt.Sprintf("%d xdpchain %d", p, i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing != 0 || dup != 0 || a.ports[fmt.Sprint(p)] != n {
		t.Errorf("port %d: %d datagrams sent, %d received, %d missing, %d duplicated", p, n, a.ports[fmt.Sprint(p)], missing, dup)
	}
}

// paced sends datagrams "xdpchain N" to port p in rounds of 100 until stop
// closes, each round only after the socket received the previous one (its
// rings never overflow), and counts them in sent.
func (a *xskApp) paced(c *cli, p int, sent *atomic.Int64, stop chan struct{}) error {
	var conn *net.UDPConn
	err := c.send.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.pair.B.Addr4(), uint16(p))))
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	for round := 0; ; round++ {
		select {
		case <-stop:
			if round >= 3 {
				return nil
			}
		default:
		}
		for range 100 {
			if _, err := fmt.Fprintf(conn, "xdpchain %d", sent.Load()); err != nil {
				return fmt.Errorf("sending: %w", err)
			}
			sent.Add(1)
		}
		deadline := time.Now().Add(30 * time.Second)
		for a.port(p) < int(sent.Load()) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the AF_XDP socket received %d of %d datagrams to port %d", a.port(p), sent.Load(), p)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// stop closes xskrecv's input and returns the frame count it reports.
func (a *xskApp) stop(t *testing.T) int {
	t.Helper()
	a.stdin.Close()
	select {
	case err := <-a.dead:
		if err != nil {
			t.Errorf("xskrecv: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("xskrecv did not exit a minute after its input closed")
	}
	// Its output is read to the end before dead is sent.
	select {
	case n := <-a.exit:
		return n
	default:
		t.Fatal("xskrecv exited without printing its count")
	}
	return 0
}
