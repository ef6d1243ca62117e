package daemon_test

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon"
)

// twoPlugins: "guard" blocks A's IPv6 address under the policy POLICY;
// "other" and the config program "count" are bystanders.
const twoPlugins = `
[[plugin]]
name = "guard"
command = "%[2]s"
interfaces = ["%[1]s"]
priority = 10
on_exit = "POLICY"
allowed_verdicts = ["drop", "pass"]

[plugin.settings]
prefixes = ["%[3]s"]

[[plugin]]
name = "other"
command = "%[2]s"
interfaces = ["%[1]s"]
priority = 20

[plugin.settings]
prefixes = ["192.0.2.0/24"]

[[program]]
name = "count"
object = "counter.o"
interfaces = ["%[1]s"]
priority = 30
`

// TestPluginCrash kills a plugin with SIGKILL under each on_exit policy
// while traffic flows, and checks that the policy is applied to that slot
// alone: the other plugin's process and slot, and the config program, stay.
func TestPluginCrash(t *testing.T) {
	for _, tc := range []struct {
		policy string
		// state after the crash, and whether guard's program is still in
		// the chain (dropping A's IPv6 traffic).
		state   string
		inChain bool
	}{
		{"keep", api.StateExited, true},
		{"detach", api.StateDetached, false},
		{"restart", api.StateRunning, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			f := newFixture(t)
			f.writeConfig("", strings.ReplaceAll(twoPlugins, "POLICY", tc.policy))
			f.start(daemon.Options{})

			if got, want := f.chain(), "guard(plugin:guard) other(plugin:other) count(config:count)"; got != want {
				t.Fatalf("chain %q, want %q", got, want)
			}
			f.expectTraffic(true)
			before, _ := f.status()
			guard, other := f.plugin("guard"), f.plugin("other")
			if guard.State != api.StateRunning || guard.PID == 0 || other.PID == 0 || guard.Version == "" {
				t.Fatalf("plugins before the crash: %+v %+v", guard, other)
			}
			countBefore := before.Programs[2].Stats.Pass

			if err := syscall.Kill(guard.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			after := f.waitPlugin("guard", func(p api.PluginStatus) bool {
				return p.State == tc.state && p.PID != guard.PID
			})
			if tc.policy == "restart" && (after.PID == 0 || after.Restarts != 1) {
				t.Errorf("restarted plugin: %+v, want a new process and 1 restart", after)
			}
			if tc.policy != "restart" && after.PID != 0 {
				t.Errorf("crashed plugin still has a process: %+v", after)
			}

			want := "guard(plugin:guard) other(plugin:other) count(config:count)"
			if !tc.inChain {
				want = "other(plugin:other) count(config:count)"
			}
			if got := f.chain(); got != want {
				t.Errorf("chain after the crash %q, want %q", got, want)
			}
			f.expectTraffic(tc.inChain)

			itf, _ := f.status()
			if tc.inChain && itf.DispatcherID != before.DispatcherID {
				t.Errorf("the dispatcher was swapped (id %d -> %d) though guard's program did not change", before.DispatcherID, itf.DispatcherID)
			}
			if o := f.plugin("other"); o.PID != other.PID || o.State != api.StateRunning {
				t.Errorf("the other plugin was disturbed: %+v, was %+v", o, other)
			}
			count := itf.Programs[len(itf.Programs)-1]
			if count.Name != "count" || count.Stats.Pass <= countBefore {
				t.Errorf("the config program stopped counting: %+v (before: %d passed)", count, countBefore)
			}
		})
	}
}

// TestPluginRestartGivesUp breaks a plugin's binary, kills the plugin, and
// checks that the daemon gives up after its attempts and keeps the program.
func TestPluginRestartGivesUp(t *testing.T) {
	f := newFixture(t)
	bin := f.dir + "/broken-later"
	if err := copyFile(blocklistBin, bin); err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(twoPlugins, "POLICY", "restart")
	body = strings.Replace(body, `command = "%[2]s"`, `command = "`+bin+`"`, 1)
	f.writeConfig("", body)
	f.start(daemon.Options{RestartAttempts: 3})
	guard := f.plugin("guard")

	// The running binary cannot be written: replace the file.
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho not a plugin\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(guard.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	after := f.waitPlugin("guard", func(p api.PluginStatus) bool { return p.State == api.StateFailed })
	if after.Restarts != 3 || after.LastError == "" {
		t.Errorf("gave up after %d attempts (last error %q), want 3 and an error", after.Restarts, after.LastError)
	}
	if got, want := f.chain(), "guard(plugin:guard) other(plugin:other) count(config:count)"; got != want {
		t.Errorf("chain %q, want %q", got, want)
	}
	f.expectTraffic(true)

	// The binary is fixed and the config reloaded: the reload starts the
	// plugin again, which is no crash restart (no count, no backoff).
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(blocklistBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	revived := f.waitPlugin("guard", func(p api.PluginStatus) bool { return p.State == api.StateRunning })
	if revived.Restarts != 0 {
		t.Errorf("a start asked for by a reload counted as a crash restart: restarts %d, want 0", revived.Restarts)
	}
}
