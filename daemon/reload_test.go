package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
	"github.com/xdpchain/xdpchain/plugins/host"
)

const guardOnly = `
[[plugin]]
name = "guard"
command = "%[2]s"
interfaces = ["%[1]s"]
priority = PRIORITY

[plugin.settings]
prefixes = [PREFIXES]
`

func guardConfig(priority int, prefixes string) string {
	return strings.NewReplacer("PRIORITY", fmt.Sprint(priority), "PREFIXES", prefixes).Replace(guardOnly)
}

// TestReload changes the config file under a running daemon: what applies
// changes the chain (or only the plugin's settings); what fails, for any
// reason, changes nothing.
func TestReload(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", guardConfig(10, `"%[3]s"`))
	// The start timeout bounds the case of a plugin that never answers; a
	// real plugin must answer within it on a busy machine, and under the
	// VMs' emulated CPUs (TCG), where a handshake can take seconds.
	startTimeout := host.DefaultStartTimeout
	if vmtest.InVM() {
		startTimeout = time.Minute
	}
	f.start(daemon.Options{PluginStartTimeout: startTimeout})
	f.expectTraffic(true)
	guard := f.plugin("guard")
	first, _ := f.status()
	scripts := map[string]string{
		// never answers the handshake
		"hang.sh": "#!/bin/sh\nexec sleep 60\n",
		// answers with another application protocol version
		"mismatch.sh": "#!/bin/sh\necho '1|99|unix|/nonexistent.sock|grpc|'\nexec sleep 60\n",
	}
	for name, src := range scripts {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// New settings reach the running plugin: no new process, no swap.
	f.writeConfig("", guardConfig(10, `"192.0.2.0/24"`))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.expectTraffic(false)
	if p := f.plugin("guard"); p.PID != guard.PID {
		t.Errorf("a settings change restarted the plugin: pid %d -> %d", guard.PID, p.PID)
	}
	if itf, _ := f.status(); itf.DispatcherID != first.DispatcherID {
		t.Errorf("a settings change swapped the dispatcher")
	}
	f.writeConfig("", guardConfig(10, `"%[3]s"`))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.expectTraffic(true)
	good, _ := f.status()

	// Each of these fails; after each the chain, the plugin and the config
	// in force are as before.
	for _, tc := range []struct {
		name   string
		body   string
		target error
		msg    string
		// swapped: the failure came after the new plugin's program was
		// swapped in (its maps must exist before it is configured), so the
		// chain was swapped back: same programs, another dispatcher.
		swapped bool
	}{
		{"invalid file", "bogus = 1\n" + guardConfig(10, `"%[3]s"`), config.ErrInvalid, "bogus: unknown key", false},
		{"unreadable object", guardConfig(20, `"%[3]s"`) + `
[[program]]
name = "gone"
object = "no-such.o"
interfaces = ["%[1]s"]
`, config.ErrInvalid, "no-such.o: no such file", false},
		{"verifier rejects a program", guardConfig(20, `"%[3]s"`) + `
[[program]]
name = "bad"
object = "bad.o"
interfaces = ["%[1]s"]
`, dispatcher.ErrLoad, `program "bad"`, false},
		{"wrong sha256 of a new plugin", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "%[2]s"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
interfaces = ["%[1]s"]
`, host.ErrChecksum, "second", false},
		{"plugin never answers", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "hang.sh"
interfaces = ["%[1]s"]
`, host.ErrStartTimeout, "second", false},
		{"handshake mismatch", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "mismatch.sh"
interfaces = ["%[1]s"]
`, host.ErrHandshake, "second", false},
		{"not a plugin", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "/bin/true"
interfaces = ["%[1]s"]
`, host.ErrHandshake, "second", false},
		// The blocklist validates its settings before anything is applied.
		{"plugin refuses its settings", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "%[2]s"
interfaces = ["%[1]s"]
[plugin.settings]
prefixes = ["not-a-prefix"]
`, host.ErrSettings, `settings refused: prefix "not-a-prefix"`, false},
		// A plugin that cannot validate (the test binary's requester)
		// refuses them only when configured.
		{"plugin without validation refuses its settings", guardConfig(20, `"%[3]s"`) + `
[[plugin]]
name = "second"
command = "` + selfBin + `"
args = ["` + pluginArg + `"]
interfaces = ["%[1]s"]
[plugin.settings]
bogus = 1
`, host.ErrConfigure, `configuring plugin: decoding settings: json: unknown field "bogus"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.writeConfig("", tc.body)
			err := f.d.Reload(context.Background())
			if !errors.Is(err, api.ErrReload) || !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Reload: %v, want ErrReload and %v mentioning %q", err, tc.target, tc.msg)
			}
			if n := strings.Count(err.Error(), "plugin second"); n > 1 {
				t.Errorf("the message names the plugin %d times: %v", n, err)
			}
			itf, st := f.status()
			if (itf.DispatcherID != good.DispatcherID) != tc.swapped || len(itf.Programs) != 1 || itf.Programs[0].Priority != 10 {
				t.Errorf("the chain changed: %+v, was %+v", itf, good)
			}
			if len(st.Plugins) != 1 || st.Plugins[0].PID != guard.PID {
				t.Errorf("plugins changed: %+v", st.Plugins)
			}
			if p := f.d.Config().Plugins[0].Priority; *p != 10 {
				t.Errorf("the config in force changed: priority %d", *p)
			}
			f.expectTraffic(true)
		})
	}

	// A plugin leaves the config: its process stops and its program leaves
	// the chain; a program arrives.
	f.writeConfig("", countConfig(0))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.chain(); got != "count(config:count)" {
		t.Errorf("chain %q, want only count", got)
	}
	if err := waitGone(guard.PID); err != nil {
		t.Error(err)
	}
	f.expectTraffic(false)
}

// TestReloadRollsBack checks that a change spanning two interfaces is
// undone on the first when the second fails.
func TestReloadRollsBack(t *testing.T) {
	f := newFixture(t)
	// A second managed interface: end A, in namespace send.
	second := fmt.Sprintf(`
[[interface]]
name = %q
netns = %q
`, f.pair.A.Name, f.send.Name)
	f.writeConfig("", second)
	f.start(daemon.Options{})
	before, _ := f.status()

	f.writeConfig("", second+`
[[program]]
name = "count"
object = "counter.o"
interfaces = ["*"]

[[program]]
name = "bad"
object = "bad.o"
interfaces = ["`+f.send.Name+`/`+f.pair.A.Name+`"]
`)
	err := f.d.Reload(context.Background())
	if !errors.Is(err, dispatcher.ErrLoad) {
		t.Fatalf("Reload: %v, want ErrLoad", err)
	}
	after, _ := f.status()
	if len(after.Programs) != 0 {
		t.Errorf("the first interface kept the failed change: %q", f.chain())
	}
	if after.Generation <= before.Generation {
		t.Errorf("generation %d -> %d: the first interface was never changed, so the test proves nothing", before.Generation, after.Generation)
	}
	if !strings.Contains(f.logs.String(), "chain updated") {
		t.Errorf("no chain update logged")
	}
}

// TestShutdown stops the daemon as SIGTERM does: the plugin processes end,
// the programs keep serving traffic, and a new daemon takes over without a
// swap.
func TestShutdown(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", guardConfig(10, `"%[3]s"`)+countConfig(0))
	f.start(daemon.Options{})
	guard := f.plugin("guard")
	before, _ := f.status()
	f.stop()

	if err := waitGone(guard.PID); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(f.socket()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
	r, err := dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Status()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Programs) != 2 || st.DispatcherID != before.DispatcherID {
		t.Errorf("after shutdown: %+v, want the same dispatcher with 2 programs", st)
	}
	f.expectTraffic(true)

	// A new daemon with the same config starts a new process and leaves the
	// chain as it is.
	f.start(daemon.Options{})
	if p := f.plugin("guard"); p.PID == guard.PID || p.State != api.StateRunning {
		t.Errorf("after restart: %+v", p)
	}
	if itf, _ := f.status(); itf.DispatcherID != before.DispatcherID {
		t.Errorf("a restart of the daemon swapped the dispatcher")
	}
	f.expectTraffic(true)
}

// waitGone waits until a process has exited.
func waitGone(pid int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
		if strings.Contains(string(b), ") Z ") {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("process %d still runs", pid)
}

// TestSweep starts a daemon whose config no longer lists an interface an
// earlier run managed: the daemon's programs leave it, a user's stay.
func TestSweep(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", countConfig(0))
	f.start(daemon.Options{})
	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Load(context.Background(), chain.LoadRequest{Interface: chain.NewInterface(f.recv.Name, f.iface()), Name: "mine",
		Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop")})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	f.stop()

	// The next run manages end A only.
	path := f.writeConfig("", "")
	src, _ := os.ReadFile(path)
	src = []byte(strings.Replace(string(src), fmt.Sprintf("name = %q\nnetns = %q", f.iface(), f.recv.Name),
		fmt.Sprintf("name = %q\nnetns = %q", f.pair.A.Name, f.send.Name), 1))
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	f.start(daemon.Options{})
	st, err := f.d.Status(f.iface(), f.recv.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Interfaces) != 1 || len(st.Interfaces[0].Programs) != 1 || st.Interfaces[0].Programs[0].Name != "mine" {
		t.Errorf("after the sweep: %+v, want only mine", st.Interfaces)
	}
}
