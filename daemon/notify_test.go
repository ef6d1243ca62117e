package daemon_test

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/deploy/systemd"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// notifyListener is the service manager's side of NOTIFY_SOCKET.
type notifyListener struct {
	t    *testing.T
	conn *net.UnixConn
	path string
}

func listenNotify(t *testing.T, dir string) *notifyListener {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifyListener{t: t, conn: conn, path: path}
}

// next returns the next message's lines, failing the test after timeout or
// when the daemon exited first.
func (n *notifyListener) next(timeout time.Duration, exited chan error) []string {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 4096)
	for {
		n.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		k, err := n.conn.Read(buf)
		if err == nil {
			return strings.Split(strings.TrimSpace(string(buf[:k])), "\n")
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			n.t.Fatal(err)
		}
		select {
		case err := <-exited:
			exited <- err // for the test's cleanup
			n.t.Fatalf("the daemon exited (%v) before notifying", err)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("no notification within %v", timeout)
		}
	}
}

// expect reads the next message and checks that its first line is want.
func (n *notifyListener) expect(want string, exited chan error) []string {
	n.t.Helper()
	msg := n.next(90*time.Second, exited)
	if msg[0] != want {
		n.t.Fatalf("notification %q, want %s first", msg, want)
	}
	n.t.Logf("notified: %q", msg)
	return msg
}

// TestNotify runs `xdpchain run` as systemd would with Type=notify: READY=1
// comes once the chain is in line, RELOADING=1 then READY=1 around SIGHUP,
// STOPPING=1 on SIGTERM, and the daemon exits 0.
func TestNotify(t *testing.T) {
	vmtest.LogWhere(t)
	testNotify(t, nil)
}

// TestNotifyUnitCapabilities is TestNotify with the daemon confined as
// deploy/systemd/xdpchain.service confines it: only the unit's
// CapabilityBoundingSet, and no new privileges (setpriv, from util-linux).
func TestNotifyUnitCapabilities(t *testing.T) {
	vmtest.LogWhere(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("skipped on %s: no setpriv (util-linux) to confine the daemon with; this test runs on the host", vmtest.Where())
	}
	// busybox's setpriv (the VMs') has no --bounding-set.
	if out, _ := exec.Command(setpriv, "--version").CombinedOutput(); !strings.Contains(string(out), "util-linux") {
		t.Skipf("skipped on %s: %s is not util-linux's setpriv (no --bounding-set); this test runs on the host", vmtest.Where(), setpriv)
	}
	var caps []string
	for _, line := range strings.Split(systemd.Unit, "\n") {
		if v, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			for _, c := range strings.Fields(v) {
				caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
		}
	}
	if len(caps) == 0 {
		t.Fatal("the unit has no CapabilityBoundingSet")
	}
	set := "-all," + strings.Join(caps, ",")
	t.Logf("bounding set %s", set)
	testNotify(t, []string{setpriv, "--no-new-privs", "--bounding-set", set, "--inh-caps", "-all", "--"})
}

// testNotify runs the daemon with NOTIFY_SOCKET, behind the command
// prefix wrap when not nil.
func testNotify(t *testing.T, wrap []string) {
	f := newX11Fixture(t)
	cfg := f.writeConfig("", countConfig(0))
	bin := testutil.XDPChainBinary(t)
	n := listenNotify(t, f.dir)

	logs := &testutil.Buffer{}
	argv := append(wrap, bin, "run", "--config", cfg, "--log-level", "debug")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(cmd.Environ(), daemon.EnvNotifySocket+"="+n.path)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})

	n.expect("READY=1", exited)
	st, err := f.rootStatus()
	if err != nil {
		t.Fatalf("at READY=1: %v", err)
	}
	if len(st.Programs) != 1 || st.Programs[0].Name != "count" {
		t.Fatalf("at READY=1 the chain is %+v, want the config's program count", st.Programs)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	msg := n.expect("RELOADING=1", exited)
	if len(msg) < 2 || !strings.HasPrefix(msg[1], "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
	}
	n.expect("READY=1", exited)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	n.expect("STOPPING=1", exited)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the daemon exited with %v after SIGTERM, want 0", err)
		}
		exited <- err
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not exit within 60s of SIGTERM")
	}
	// SIGTERM leaves the program serving.
	if st, err := f.rootStatus(); err != nil || len(st.Programs) != 1 {
		t.Errorf("after the daemon stopped: %v, %+v; want the chain in place", err, st)
	}
}
