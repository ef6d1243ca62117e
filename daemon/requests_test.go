package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// pluginArg as the first argument makes the test binary serve the
// requester plugin.
const pluginArg = "xdpchain-daemon-test-plugin"

// requester is a plugin that, when its settings say so, asks the daemon to
// replace its program or to change its settings, and appends what happens
// to a report file.
type requester struct {
	mu    sync.Mutex
	asked map[string]bool
}

type requesterSettings struct {
	Replace     string         `json:"replace"` // a testprogs object
	Version     string         `json:"version"`
	AskSettings map[string]any `json:"ask_settings"`
	Report      string         `json:"report"`
	Note        string         `json:"note"`
	Log         string         `json:"log"`    // logged with sdk.Logger and on stderr
	Refuse      string         `json:"refuse"` // Configure refuses the settings with this reason
	Token       string         `json:"token"`  // a secret (SecretSettings)
}

func (r *requester) Describe() sdk.Description {
	return sdk.Description{Name: "requester", Version: "1.0.0", Object: blocklist.Object(), ProgramName: blocklist.ProgramName, SecretSettings: []string{"token"}}
}

func report(path, format string, args ...any) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "pid %d: "+format+"\n", append([]any{os.Getpid()}, args...)...)
}

func (r *requester) Configure(_ context.Context, settings sdk.Settings, maps *sdk.Maps, host *sdk.Host) error {
	var s requesterSettings
	if err := settings.Decode(&s); err != nil {
		return err
	}
	if s.Refuse != "" {
		return errors.New(s.Refuse)
	}
	report(s.Report, "configured note=%s maps=%s", s.Note, strings.Join(maps.Names(), ","))
	if s.Log != "" {
		sdk.Logger().Info(s.Log, "note", s.Note)
		sdk.Logger().Debug(s.Log + " (debug)")
		fmt.Fprintln(os.Stderr, s.Log+" (stderr)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.asked == nil {
		r.asked = map[string]bool{}
	}
	// Ask from another goroutine: the daemon answers after Configure.
	if key := "replace " + s.Replace + " " + s.Version; s.Replace != "" && !r.asked[key] {
		r.asked[key] = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := host.RequestReplace(ctx, sdk.Replacement{Object: testprogs.Object(s.Replace), ProgramName: testprogs.Program(s.Replace), Version: s.Version})
			report(s.Report, "%s: %v", key, err)
		}()
	}
	if s.AskSettings != nil && !r.asked["settings"] {
		r.asked["settings"] = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := host.RequestSettings(ctx, s.AskSettings)
			report(s.Report, "settings: %v", err)
		}()
	}
	return nil
}

func (r *requester) Health(context.Context) error { return nil }

func servePlugin() { sdk.Serve(&requester{}) }

const requesterConfig = `
[[plugin]]
name = "req"
command = "SELF"
args = ["` + pluginArg + `"]
interfaces = ["%[1]s"]
on_exit = "restart"

[plugin.settings]
report = "REPORT"
SETTINGS
`

// TestPluginRequests: a plugin process asks for its program to be replaced
// (accepted: one swap of its own entry; refused: nothing changes) and for
// new settings (it is configured with them, also after a restart).
func TestPluginRequests(t *testing.T) {
	f := newFixture(t)
	reportFile := filepath.Join(f.dir, "report")
	cfg := func(settings string) string {
		return strings.NewReplacer("SELF", selfBin, "REPORT", reportFile, "SETTINGS", settings).Replace(requesterConfig) + countConfig(90)
	}
	waitReport := func(line string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			b, _ := os.ReadFile(reportFile)
			if strings.Contains(string(b), line) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the plugin never reported %q; report:\n%s", line, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	entry := func() (version, program string) {
		itf, _ := f.status()
		for _, p := range itf.Programs {
			if p.Name == "req" {
				return p.Version, p.Program
			}
		}
		t.Fatalf("no req in the chain %q", f.chain())
		return "", ""
	}

	f.writeConfig("", cfg(`replace = "noop"`+"\n"+`version = "2.0.0"`))
	f.start(daemon.Options{})
	waitReport("replace noop 2.0.0: <nil>")
	if v, p := entry(); v != "2.0.0" || p != testprogs.Program("noop") {
		t.Errorf("after the accepted replace: version %q program %q, want 2.0.0 and noop", v, p)
	}
	if got := f.chain(); got != "req(plugin:req) count(config:count)" {
		t.Errorf("chain %q", got)
	}
	// Configured again, with the new object's maps.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(reportFile)
		if strings.Count(string(b), "configured") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not configured again after the replace:\n%s", b)
		}
	}
	before, _ := f.status()

	// A replace the verifier rejects is refused, and nothing changes.
	f.writeConfig("", cfg(`replace = "bad"`+"\n"+`version = "3.0.0"`))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReport("replace bad 3.0.0: requesting replace:")
	if v, _ := entry(); v != "2.0.0" {
		t.Errorf("after the refused replace: version %q, want 2.0.0", v)
	}
	if itf, _ := f.status(); itf.DispatcherID != before.DispatcherID {
		t.Errorf("a refused replace swapped the dispatcher")
	}

	// The plugin asks for new settings and is configured with them.
	f.writeConfig("", cfg(`ask_settings = { note = "asked", report = "`+reportFile+`" }`))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReport("settings: <nil>")
	waitReport("configured note=asked")

	// After a crash, the restarted process gets the settings it asked for,
	// and describes itself afresh.
	req := f.plugin("req")
	if err := syscall.Kill(req.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	after := f.waitPlugin("req", func(p api.PluginStatus) bool { return p.State == api.StateRunning && p.PID != req.PID })
	waitReport(fmt.Sprintf("pid %d: configured note=asked", after.PID))
	if v, p := entry(); v != "1.0.0" || p != blocklist.ProgramName {
		t.Errorf("after the restart: version %q program %q, want the described 1.0.0 blocklist", v, p)
	}
}

// TestUnprivilegedPlugin runs the blocklist as nobody: it reaches its maps
// through the daemon (the pins are root's), and it blocks.
func TestUnprivilegedPlugin(t *testing.T) {
	// plugins/host resolves a plugin's user through the passwd database.
	if _, err := user.LookupId("65534"); err != nil {
		t.Skipf("no passwd entry for uid 65534: %v", err)
	}
	f := newFixture(t)
	f.writeConfig("", `
[[plugin]]
name = "guard"
command = "%[2]s"
interfaces = ["%[1]s"]
user = "65534"

[plugin.settings]
prefixes = ["%[3]s"]
`)
	f.start(daemon.Options{})
	f.expectTraffic(true)
	p := f.plugin("guard")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Uid:\t65534") {
		t.Errorf("plugin process does not run as 65534:\n%s", b)
	}
}
