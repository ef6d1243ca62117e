package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// topProgName is the name the top tests load the noop program under.
const topProgName = "toppass"

// topSetup is a veth pair between two namespaces of the tests' own (prefix
// "top-"), a chain of one program (noop, passing everything) on end B, and
// UDP traffic flowing from A to B until the test ends.
type topSetup struct {
	bin, bpffs, state string
	recv              *testutil.NetNS
	iface             string
}

func newTopSetup(t *testing.T) *topSetup {
	t.Helper()
	testutil.RequireRoot(t)
	vmtest.LogWhere(t)
	s := &topSetup{bin: testutil.XDPChainBinary(t), bpffs: testutil.PrivateBPFFS(t), state: t.TempDir()}
	send := testutil.NewNetNSPrefix(t, "top-")
	s.recv = testutil.NewNetNSPrefix(t, "top-")
	pair := testutil.NewVethPair(t, send, s.recv, nil)
	testutil.AddNeighbour(t, pair.A, pair.B)
	s.iface = pair.B.Name
	obj, err := testprogs.WriteFile(t.TempDir(), testprogs.Noop)
	if err != nil {
		t.Fatal(err)
	}
	s.mustRun(t, "load", "--netns", s.recv.Name, "--name", topProgName, s.iface, obj)
	t.Cleanup(func() { s.xdpchain(t, "detach", "--netns", s.recv.Name, s.iface) })

	rx := testutil.ListenUDP(t, s.recv, netip.AddrPortFrom(pair.B.Addr4(), 0))
	var conn *net.UDPConn
	if err := send.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(rx.Addr()))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// About 2000 datagrams a second until the test ends, gently: the CPUs
	// are shared.
	stop, stopped := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			for range 10 {
				if _, err := conn.Write([]byte("xdpchain top")); err != nil {
					stopped <- err
					return
				}
			}
			select {
			case <-stop:
				stopped <- nil
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		if err := <-stopped; err != nil {
			t.Errorf("sending UDP: %v", err)
		}
		conn.Close()
	})
	// The chain sees the traffic before a test looks at rates.
	if got := rx.WaitFor(100, 10*time.Second); got < 100 {
		t.Fatalf("%d datagrams arrived through the chain, want 100", got)
	}
	return s
}

// args are the global flags for the setup's pins, without a daemon.
func (s *topSetup) args(args ...string) []string {
	return append([]string{"--bpffs", s.bpffs, "--state-dir", s.state, "--no-daemon"}, args...)
}

func (s *topSetup) xdpchain(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return testutil.RunXDPChain(t, s.bin, s.args(args...)...)
}

func (s *topSetup) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := s.xdpchain(t, args...)
	if err != nil {
		t.Fatalf("xdpchain %s: %v: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// programRate returns the PKT/S field of the newest row of program name
// among lines ("" when there is none). A row is: #, NAME, OWNER, STATE,
// PKT/S, SHARE, DROP, PASS, TX, REDIR, ABORT.
func programRate(lines []string, name string) (rate string, row []string) {
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) == 11 && f[1] == name {
			return f[4], f
		}
	}
	return "", nil
}

// nonZero reports whether a rate field shows packets.
func nonZero(rate string) bool { return rate != "" && rate != "-" && rate != "0" }

// allShare reports whether a SHARE field says (about) all the interface's
// packets: the counters are read while packets are in flight, so a packet
// counted at the program but not yet at the fall-through may shift one
// sample by one.
func allShare(share string) bool {
	n, err := strconv.Atoi(strings.TrimSuffix(share, "%"))
	return err == nil && strings.HasSuffix(share, "%") && n >= 90 && n <= 100
}

// ptyOutput is the terminal behind a process's pseudo-terminal: a
// terminal emulator (charmbracelet/x/vt) keeps the screen the process
// drew, and answers the process's queries (cursor position, device
// attributes) as a terminal does; the raw stream is kept for the log.
type ptyOutput struct {
	mu   sync.Mutex
	raw  strings.Builder
	emu  *vt.Emulator
	done chan struct{}
}

func readPty(f *os.File, cols, rows int) *ptyOutput {
	o := &ptyOutput{emu: vt.NewEmulator(cols, rows), done: make(chan struct{})}
	go func() {
		// The emulator's answers go back to the process.
		io.Copy(f, o.emu)
	}()
	go func() {
		defer close(o.done)
		defer o.emu.Close()
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			o.mu.Lock()
			o.raw.Write(buf[:n])
			o.emu.Write(buf[:n])
			o.mu.Unlock()
			if err != nil {
				return // EIO once the process has exited, or closed
			}
		}
	}()
	return o
}

// String is the raw stream.
func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.raw.String()
}

// lines is what the screen shows, line by line.
func (o *ptyOutput) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Split(o.emu.String(), "\n")
}

// liveTop is `xdpchain top` running in an 80x24 pseudo-terminal.
type liveTop struct {
	ptmx    *os.File
	out     *ptyOutput
	exited  chan error
	waitErr error
	waited  bool // exited was received from
}

func startTop(t *testing.T, s *topSetup) *liveTop {
	t.Helper()
	cmd := exec.Command(s.bin, s.args("top", "--netns", s.recv.Name, "--interval", "200ms", s.iface)...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err != nil {
		t.Fatalf("starting xdpchain top in a pty: %v", err)
	}
	l := &liveTop{ptmx: ptmx, out: readPty(ptmx, 80, 24), exited: make(chan error, 1)}
	go func() { l.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !l.waited {
			cmd.Process.Kill()
			<-l.exited
		}
		ptmx.Close()
		<-l.out.done
		if t.Failed() {
			t.Logf("the terminal stream:\n%q", l.out.String())
		}
	})
	return l
}

// waitFor polls the screen until cond holds, failing the test if top
// exits first or deadline passes.
func (l *liveTop) waitFor(t *testing.T, what string, deadline <-chan time.Time, cond func(lines []string) bool) {
	t.Helper()
	for !cond(l.out.lines()) {
		select {
		case l.waitErr = <-l.exited:
			l.waited = true
			t.Fatalf("xdpchain top exited (%v) while waiting for %s", l.waitErr, what)
		case <-deadline:
			t.Fatalf("timeout waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// key types keys into the terminal.
func (l *liveTop) key(t *testing.T, keys string) {
	t.Helper()
	if _, err := l.ptmx.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

// TestTopLive runs `xdpchain top` in an 80x24 pseudo-terminal while
// traffic flows through the chain: the screen shows a non-zero packet rate
// for the program, s sorts by rate, and q (or Ctrl-C) quits with exit
// status 0.
func TestTopLive(t *testing.T) {
	s := newTopSetup(t)
	for _, quit := range []struct{ name, keys string }{{"q", "q"}, {"ctrl-c", "\x03"}} {
		t.Run(quit.name, func(t *testing.T) {
			l := startTop(t, s)
			deadline := time.After(30 * time.Second)
			var row []string
			l.waitFor(t, "a non-zero rate of "+topProgName, deadline, func(lines []string) bool {
				var rate string
				rate, row = programRate(lines, topProgName)
				return nonZero(rate)
			})
			t.Logf("row: %q", row)
			// noop passes everything; it is the only slot, so it has all
			// the interface's packets.
			if !nonZero(row[7]) || !allShare(row[5]) || row[2] != "user:0" {
				t.Errorf("the program's row: %q, want PASS non-zero, SHARE about 100%%, OWNER user:0", row)
			}
			for _, line := range l.out.lines() {
				if len(line) > 80 {
					t.Errorf("a line wider than the terminal: %q", line)
				}
			}

			l.key(t, "s")
			l.waitFor(t, "sort: rate in the header after s", deadline, func(lines []string) bool {
				return slices.ContainsFunc(lines, func(line string) bool { return strings.Contains(line, "sort: rate (s)") })
			})

			l.key(t, quit.keys)
			select {
			case l.waitErr = <-l.exited:
				l.waited = true
				if l.waitErr != nil {
					t.Fatalf("xdpchain top after %s: %v", quit.name, l.waitErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("xdpchain top still runs 5s after %s", quit.name)
			}
		})
	}
}

// TestTopOnce: --once prints one frame of plain text with the rates over
// one interval, and exits 0; without --once, top wants a terminal.
func TestTopOnce(t *testing.T) {
	s := newTopSetup(t)
	out := s.mustRun(t, "top", "--once", "--interval", "300ms", "--netns", s.recv.Name, s.iface)
	t.Logf("\n%s", out)
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("escape codes in --once output: %q", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, line := range lines {
		if len(line) > 80 {
			t.Errorf("a line wider than 80 columns: %q", line)
		}
	}
	// The interval is measured (a busy machine stretches it): the header
	// says it, whatever it is, never the one asked for.
	if !regexp.MustCompile(`^xdpchain top - rates over [0-9]+\.[0-9]{2}s - sort: chain`).MatchString(lines[0]) {
		t.Errorf("header: %q", lines[0])
	}
	if !strings.Contains(out, s.iface+" (netns "+s.recv.Name+"): ") {
		t.Errorf("no line for the interface")
	}
	rate, row := programRate(lines, topProgName)
	if !nonZero(rate) || !allShare(row[5]) || !nonZero(row[7]) {
		t.Errorf("the program's row: %q, want non-zero PKT/S and PASS, SHARE about 100%%", row)
	}

	// Every interface with a root, sorted by rate: ours among them.
	if out := s.mustRun(t, "top", "--once", "--interval", "100ms", "--sort", "rate"); !strings.Contains(out, "sort: rate") || !strings.Contains(out, s.iface+" (netns "+s.recv.Name+")") {
		t.Errorf("top --once of every interface:\n%s", out)
	}
	for _, bad := range [][]string{
		{"top", "--netns", s.recv.Name, s.iface},                       // stdout is no terminal
		{"top", "--once", "--sort", "speed", s.iface},                  // no such order
		{"top", "--once", "--interval", "0s", s.iface},                 // no interval
		{"top", "--once", "--netns", s.recv.Name, "no-such-interface"}, // no root there
	} {
		_, errOut, err := s.xdpchain(t, bad...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(errOut, "xdpchain: ") {
			t.Errorf("xdpchain %s: %v, stderr %q; want exit 1 and an error", strings.Join(bad, " "), err, errOut)
		}
	}
}

// TestNoTerminalQueries: a command other than top, run in a terminal,
// writes no escape sequence to it. (A TUI library that queries the
// terminal at package init would make every command wait for an answer
// that a bare or slow terminal never gives.)
func TestNoTerminalQueries(t *testing.T) {
	bin := testutil.XDPChainBinary(t)
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	out, _ := io.ReadAll(ptmx) // EIO once it has exited
	if err := cmd.Wait(); err != nil {
		t.Fatalf("xdpchain version: %v: %q", err, out)
	}
	if bytes.ContainsRune(out, 0x1b) || !bytes.Contains(out, []byte("xdpchain")) {
		t.Errorf("xdpchain version in a terminal wrote %q", out)
	}
}

// programNs returns the NS/PKT field of the newest row of program name
// among lines of a profiling frame ("" when there is none): the row of
// programRate and a twelfth field.
func programNs(lines []string, name string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) == 12 && f[1] == name {
			return f[11]
		}
	}
	return ""
}

// rootInstructions returns the running root's instructions as the kernel
// translated them.
func (s *topSetup) rootInstructions(t *testing.T) string {
	t.Helper()
	return testutil.Instructions(t, func() uint32 {
		var doc struct {
			Interfaces []struct {
				DispatcherID uint32 `json:"dispatcher_id"`
			} `json:"interfaces"`
		}
		out := s.mustRun(t, "status", "--json", "--netns", s.recv.Name, s.iface)
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Interfaces) != 1 {
			t.Fatalf("status --json: %v\n%s", err, out)
		}

		return doc.Interfaces[0].DispatcherID
	})
}

// TestTopProfile: `top --once --profile` shows a column NS/PKT with a
// positive time for the program under traffic, and the plain generation
// runs again once it has exited; live, p switches the column on and off,
// and the plain generation runs again after p and after q.
func TestTopProfile(t *testing.T) {
	s := newTopSetup(t)
	plain := s.rootInstructions(t)

	out := s.mustRun(t, "top", "--once", "--profile", "--interval", "300ms", "--netns", s.recv.Name, s.iface)
	t.Logf("\n%s", out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, line := range lines {
		if len(line) > 80 {
			t.Errorf("a line wider than 80 columns: %q", line)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "NS/PKT") }) {
		t.Errorf("no NS/PKT column")
	}
	if ns := programNs(lines, topProgName); !nonZero(ns) || ns == "<0.1" {
		t.Errorf("NS/PKT of %s: %q, want a time > 0", topProgName, ns)
	}
	if got := s.rootInstructions(t); got != plain {
		t.Errorf("after top --once --profile the root is not the plain generation")
	}

	l := startTop(t, s)
	deadline := time.After(60 * time.Second)
	l.waitFor(t, "a non-zero rate of "+topProgName, deadline, func(lines []string) bool {
		rate, _ := programRate(lines, topProgName)
		return nonZero(rate)
	})
	l.key(t, "p")
	l.waitFor(t, "a positive NS/PKT after p", deadline, func(lines []string) bool {
		ns := programNs(lines, topProgName)
		return nonZero(ns) && ns != "<0.1"
	})
	if got := s.rootInstructions(t); got == plain {
		t.Errorf("while top profiles, the root runs the plain generation")
	}
	l.key(t, "p")
	l.waitFor(t, "no NS/PKT column after p again", deadline, func(lines []string) bool {
		rate, _ := programRate(lines, topProgName)
		return nonZero(rate) && !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "NS/PKT") })
	})
	if got := s.rootInstructions(t); got != plain {
		t.Errorf("after p again the root is not the plain generation")
	}
	l.key(t, "p")
	l.waitFor(t, "a positive NS/PKT after p a third time", deadline, func(lines []string) bool {
		ns := programNs(lines, topProgName)
		return nonZero(ns) && ns != "<0.1"
	})
	l.key(t, "q")
	select {
	case l.waitErr = <-l.exited:
		l.waited = true
		if l.waitErr != nil {
			t.Fatalf("xdpchain top after q: %v", l.waitErr)
		}
	case <-deadline:
		t.Fatal("xdpchain top still runs after q")
	}
	if got := s.rootInstructions(t); got != plain {
		t.Errorf("after top quit while profiling the root is not the plain generation")
	}
}
