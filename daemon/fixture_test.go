package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// fixture is a veth pair between two test namespaces, a private bpffs, and
// a directory for a config file, the control socket and program objects.
// The daemon manages end B (in namespace recv): what A sends, B's chain
// sees.
type fixture struct {
	t          *testing.T
	send, recv *testutil.NetNS
	pair       *testutil.VethPair
	dir        string // config, socket, objects; mode 0755
	bpffs      string
	state      string
	logs       *testutil.Buffer

	d      *daemon.Daemon
	cancel context.CancelFunc
	runErr chan error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testutil.RequireRoot(t)
	send, recv := testutil.NewNetNS(t), testutil.NewNetNS(t)
	return newFixtureOn(t, send, recv, testutil.NewVethPair(t, send, recv, nil))
}

// newFixtureOn is newFixture on namespaces and a veth pair the caller
// created (with names of its own).
func newFixtureOn(t *testing.T, send, recv *testutil.NetNS, pair *testutil.VethPair) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &testutil.Buffer{}, send: send, recv: recv, pair: pair}
	testutil.AddNeighbours(t, f.pair)
	f.bpffs = testutil.PrivateBPFFS(t)
	f.state = t.TempDir()
	f.dir = t.TempDir()
	// The unprivileged client must reach the socket.
	for _, d := range []string{f.dir, filepath.Dir(f.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"counter", "noop", "bad", "dropport"} {
		if _, err := testprogs.WriteFile(f.dir, name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", f.logs.String())
		}
	})
	return f
}

// iface is the managed interface's name; ref how the config refers to it.
func (f *fixture) iface() string { return f.pair.B.Name }
func (f *fixture) ref() string   { return f.recv.Name + "/" + f.pair.B.Name }

func (f *fixture) socket() string { return filepath.Join(f.dir, "xdpchain.sock") }

// writeConfig writes the config file: the [daemon] table and the managed
// interface, then body. %[1]s in body is the managed interface's Ref,
// %[2]s the blocklist plugin binary, %[3]s A's IPv6 address.
func (f *fixture) writeConfig(daemonExtra, body string) string {
	f.t.Helper()
	src := fmt.Sprintf(`[daemon]
bpffs = %q
state_dir = %q
socket = %q
%s

[[interface]]
name = %q
netns = %q
mode = "native"

`, f.bpffs, f.state, f.socket(), daemonExtra, f.iface(), f.recv.Name)
	src += strings.NewReplacer("%[1]s", f.ref(), "%[2]s", blocklistBin, "%[3]s", f.pair.A.Addr6().String()).Replace(body)
	path := filepath.Join(f.dir, "config.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// start runs a daemon on the config file and waits until it serves.
func (f *fixture) start(opts daemon.Options) {
	f.t.Helper()
	if err := f.startErr(opts); err != nil {
		f.t.Fatalf("daemon did not start: %v", err)
	}
}

func (f *fixture) startErr(opts daemon.Options) error {
	f.t.Helper()
	cfg, err := config.Load(filepath.Join(f.dir, "config.toml"))
	if err != nil {
		return err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.RestartBackoff == 0 {
		opts.RestartBackoff = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.d = daemon.New(cfg, opts)
	f.cancel = cancel
	f.runErr = make(chan error, 1)
	go func() { f.runErr <- f.d.Run(ctx) }()
	select {
	case <-f.d.Ready():
		return nil
	case err := <-f.runErr:
		f.d = nil
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("timeout")
	}
}

// stop cancels the daemon (as SIGTERM does) and waits for Run to return.
func (f *fixture) stop() {
	if f.d == nil {
		return
	}
	f.cancel()
	select {
	case err := <-f.runErr:
		if err != nil {
			f.t.Errorf("Run returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		f.t.Errorf("Run did not return after cancel")
	}
	f.d = nil
}

// status returns the daemon's status of the managed interface and of the
// plugins.
func (f *fixture) status() (*dispatcher.InterfaceStatus, *api.Status) {
	f.t.Helper()
	st, err := f.d.Status(f.iface(), f.recv.Name)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(st.Interfaces) != 1 {
		f.t.Fatalf("status has %d interfaces, want 1", len(st.Interfaces))
	}
	return &st.Interfaces[0], st
}

// chain returns the managed interface's programs as "name(owner)", in
// slot order.
func (f *fixture) chain() string {
	itf, _ := f.status()
	var out []string
	for _, p := range itf.Programs {
		out = append(out, p.Name+"("+p.Owner+")")
	}
	return strings.Join(out, " ")
}

// plugin returns a plugin instance's status on the managed interface.
func (f *fixture) plugin(name string) api.PluginStatus {
	f.t.Helper()
	_, st := f.status()
	for _, p := range st.Plugins {
		if p.Name == name && p.Interface == f.ref() {
			return p
		}
	}
	f.t.Fatalf("no plugin %s on %s in status %+v", name, f.ref(), st.Plugins)
	return api.PluginStatus{}
}

// waitPlugin polls until cond holds for the plugin's status, sending IPv4
// traffic in between and checking that all of it arrives: the chain keeps
// serving while plugins come and go.
func (f *fixture) waitPlugin(name string, cond func(api.PluginStatus) bool) api.PluginStatus {
	f.t.Helper()
	rcv := testutil.ListenUDP(f.t, f.recv, netip.AddrPortFrom(f.pair.B.Addr4(), 0))
	defer rcv.Close()
	sent := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		testutil.SendUDP(f.t, f.send, netip.AddrPortFrom(f.pair.A.Addr4(), 0), rcv.Addr(), 10)
		sent += 10
		p := f.plugin(name)
		if cond(p) {
			if got := rcv.WaitFor(sent, 5*time.Second); got != sent {
				f.t.Errorf("IPv4 traffic while waiting for plugin %s: %d of %d datagrams arrived", name, got, sent)
			}
			return p
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("plugin %s: condition not met; last status %+v", name, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver sends n UDP datagrams from A to B over IPv4 or IPv6 and returns
// how many arrived.
func (f *fixture) deliver(v6 bool, n int) int {
	f.t.Helper()
	src, dst := f.pair.A.Addr4(), f.pair.B.Addr4()
	if v6 {
		src, dst = f.pair.A.Addr6(), f.pair.B.Addr6()
	}
	rcv := testutil.ListenUDP(f.t, f.recv, netip.AddrPortFrom(dst, 0))
	defer rcv.Close()
	testutil.SendUDP(f.t, f.send, netip.AddrPortFrom(src, 0), rcv.Addr(), n)
	return rcv.Settle(150*time.Millisecond, 3*time.Second)
}

// expectTraffic checks that IPv4 passes and that IPv6 is dropped (the
// blocklist holds A's IPv6 address) or passes.
func (f *fixture) expectTraffic(v6Dropped bool) {
	f.t.Helper()
	const n = 20
	if got := f.deliver(false, n); got != n {
		f.t.Errorf("IPv4: %d of %d datagrams arrived, want all", got, n)
	}
	got := f.deliver(true, n)
	switch {
	case v6Dropped && got != 0:
		f.t.Errorf("IPv6 from a blocked source: %d of %d datagrams arrived, want none", got, n)
	case !v6Dropped && got != n:
		f.t.Errorf("IPv6: %d of %d datagrams arrived, want all", got, n)
	}
}

// countConfig is a [[program]] "count" (the counter object) on the managed
// interface, at priority when it is not 0.
func countConfig(priority int) string {
	s := "\n[[program]]\nname = \"count\"\nobject = \"counter.o\"\ninterfaces = [\"%[1]s\"]\n"
	if priority != 0 {
		s += fmt.Sprintf("priority = %d\n", priority)
	}
	return s
}
