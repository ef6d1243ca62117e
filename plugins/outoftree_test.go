package plugins_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestOutOfTree follows docs/plugin-guide.md ("A plugin in its own module")
// as a new plugin author would: it creates a module in a temporary
// directory with the portcount plugin of testdata/portcount (counts UDP
// packets per destination port), points it at this checkout with a replace
// directive, runs the guide's steps (go get -tool bpf2go at the version in
// go.mod, go generate with the headers from the xdpchain module, go mod tidy,
// the module's own sdktest-based test, go build), runs the binary under
// `xdpchain run` on a veth pair in test-created network namespaces, sends UDP
// and reads the counts from the map the daemon pinned for the plugin.
func TestOutOfTree(t *testing.T) {
	if vmtest.InVM() {
		t.Skipf("builds a plugin module with the Go toolchain and clang, which %s does not have: this test runs on the host", vmtest.Where())
	}
	for _, tool := range []string{"go", "clang"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s to build a plugin module (%v): this test runs on a host with the Go toolchain and clang 14+", tool, err)
		}
	}
	testutil.RequireRoot(t)
	checkout := strings.TrimSuffix(goOutput(t, ".", "env", "GOMOD"), "/go.mod")
	ebpfVersion := goOutput(t, checkout, "list", "-m", "-f", "{{.Version}}", "github.com/cilium/ebpf")

	// The module, from the guide's steps.
	mod := filepath.Join(t.TempDir(), "portcount")
	copyDir(t, "testdata/portcount", mod)
	bin := filepath.Join(mod, "bin", "portcount")
	for _, step := range [][]string{
		{"mod", "init", "example.com/portcount"},
		{"mod", "edit", "-require=github.com/xdpchain/xdpchain@v0.0.0", "-replace=github.com/xdpchain/xdpchain=" + checkout},
		{"get", "-tool", "github.com/cilium/ebpf/cmd/bpf2go@" + ebpfVersion},
		{"generate", "./..."},
		{"mod", "tidy"},
		{"test", "-count=1", "./..."},
		{"build", "-o", bin, "./cmd/portcount"},
	} {
		goOutput(t, mod, step...)
	}
	if _, err := os.Stat(filepath.Join(mod, "portcount_bpfel.o")); err != nil {
		t.Fatalf("go generate made no object: %v", err)
	}

	// The daemon, with a config naming the plugin, on a veth pair.
	xdpchain := testutil.XDPChainBinary(t)
	nsA, nsB := testutil.NewNetNSPrefix(t, "x10-"), testutil.NewNetNSPrefix(t, "x10-")
	pair := testutil.NewVethPair(t, nsA, nsB, &testutil.VethOptions{NameA: "x10-oot-a", NameB: "x10-oot-b"})
	recv := testutil.ListenUDP(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
	other := testutil.ListenUDP(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.toml")
	writeConfig := func(path string, ports ...uint16) {
		t.Helper()
		err := os.WriteFile(path, fmt.Appendf(nil, `[daemon]
bpffs = %q
state_dir = %q
socket = %q

[[interface]]
name = %q
netns = %q

[[plugin]]
name = "udpports"
command = %q
interfaces = [%q]
[plugin.settings]
ports = %s
`, bpffs, filepath.Join(dir, "state"), filepath.Join(dir, "xdpchain.sock"), pair.B.Name, nsB.Name, bin, pair.B.Name,
			strings.Join(strings.Fields(fmt.Sprint(ports)), ", ")), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(config, recv.Addr().Port())

	// --check asks the plugin: a port it refuses is reported at the
	// plugin's line with its reason, before anything runs.
	bad := filepath.Join(dir, "bad.toml")
	writeConfig(bad, recv.Addr().Port(), 0)
	_, stderr, err := testutil.RunXDPChain(t, xdpchain, "run", "--config", bad, "--check")
	if want := bad + ":10: plugin[0].settings: refused by plugin udpports: ports[1]: 0 is not a port"; err == nil || !strings.Contains(stderr, want) {
		t.Errorf("run --check with a bad port: %v, stderr %q, want %q", err, stderr, want)
	}

	logs := runDaemon(t, xdpchain, "run", "--config", config)

	// The map's pin: <bpffs>/xdpchain/<netns inode>/<ifindex>/maps/<the
	// plugin's name in the config>/<map>.
	var st syscall.Stat_t
	if err := syscall.Stat(nsB.Path, &st); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(bpffs, "xdpchain", strconv.FormatUint(st.Ino, 10), strconv.Itoa(pair.B.Index), "maps", "udpports", "counts")
	count := func(port uint16) (uint64, bool) {
		m, err := ebpf.LoadPinnedMap(pin, nil)
		if err != nil {
			return 0, false
		}
		defer m.Close()
		var n uint64
		if err := m.Lookup(port, &n); err != nil {
			return 0, false
		}
		return n, true
	}
	waitFor(t, logs, "the plugin to configure its port in "+pin, func() bool { _, ok := count(recv.Addr().Port()); return ok })

	testutil.SendUDP(t, nsA, netip.AddrPortFrom(pair.A.Addr4(), 0), recv.Addr(), 20)
	testutil.SendUDP(t, nsA, netip.AddrPortFrom(pair.A.Addr4(), 0), other.Addr(), 5)
	if got := recv.WaitFor(20, 10*time.Second); got != 20 {
		t.Errorf("%d of 20 datagrams arrived (the plugin passes everything)", got)
	}
	waitFor(t, logs, "20 packets counted", func() bool { n, _ := count(recv.Addr().Port()); return n >= 20 })
	if n, _ := count(recv.Addr().Port()); n != 20 {
		t.Errorf("port %d: %d packets counted, want 20", recv.Addr().Port(), n)
	}
	if got := other.WaitFor(5, 10*time.Second); got != 5 {
		t.Errorf("%d of 5 datagrams to an unlisted port arrived", got)
	}
	if n, ok := count(other.Addr().Port()); ok {
		t.Errorf("port %d is not in the settings but has a count (%d)", other.Addr().Port(), n)
	}
	// New settings by SIGHUP: the plugin moves the count to the other
	// port, with no chain swap.
	writeConfig(config, other.Addr().Port())
	if err := logs.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, logs, "the reload", func() bool {
		_, was := count(recv.Addr().Port())
		_, now := count(other.Addr().Port())
		return !was && now
	})
	testutil.SendUDP(t, nsA, netip.AddrPortFrom(pair.A.Addr4(), 0), other.Addr(), 7)
	waitFor(t, logs, "7 packets counted on the new port", func() bool { n, _ := count(other.Addr().Port()); return n >= 7 })
	if n, _ := count(other.Addr().Port()); n != 7 {
		t.Errorf("after the reload: port %d: %d packets counted, want 7", other.Addr().Port(), n)
	}

	// The plugin's record reached the daemon's log, tagged, with the
	// interface the daemon gave it in XDPCHAIN_INTERFACE.
	wantLog := fmt.Sprintf("xdpchain_interface=%s/%s", nsB.Name, pair.B.Name)
	if s := logs.String(); !strings.Contains(s, `msg="ports counted"`) || !strings.Contains(s, "plugin=udpports") || !strings.Contains(s, wantLog) {
		t.Errorf("the plugin's record (with %s) is not in the daemon's log:\n%s", wantLog, s)
	}
}

// goOutput runs go with args in dir, for a module of its own (GOFLAGS=-mod=mod,
// no workspace, the local toolchain; GOPROXY as the environment has it), and
// returns its trimmed output; it fails the test when go fails.
func goOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out.String())
	}
	return strings.TrimSpace(out.String())
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// daemonLog collects a daemon's output.
type daemonLog struct {
	testutil.Buffer // its output
	cmd             *exec.Cmd
	exited          chan struct{}
	err             error
}

// runDaemon starts the daemon; when the test ends it stops it with
// SIGTERM, which must end it with status 0.
func runDaemon(t *testing.T, bin string, args ...string) *daemonLog {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &daemonLog{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { logs.err = cmd.Wait(); close(logs.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-logs.exited:
			if logs.err != nil {
				t.Errorf("xdpchain run after SIGTERM: %v", logs.err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-logs.exited
			t.Errorf("xdpchain run did not exit on SIGTERM")
		}
		if t.Failed() {
			t.Logf("xdpchain run:\n%s", logs.String())
		}
	})
	return logs
}

// waitFor polls cond until it holds, failing the test after a minute or
// when the daemon exits.
func waitFor(t *testing.T, logs *daemonLog, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		select {
		case <-logs.exited:
			t.Fatalf("xdpchain run exited (%v) while waiting for %s", logs.err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
	}
}
