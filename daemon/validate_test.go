package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// TestReloadValidatesSettings: new settings for a running plugin are
// validated before anything is applied; a refusal leaves the plugin's
// settings and the chain as they were, and says why once.
func TestReloadValidatesSettings(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", guardConfig(10, `"%[3]s"`))
	f.start(daemon.Options{})
	f.expectTraffic(true)
	before, _ := f.status()
	f.writeConfig("", guardConfig(10, `"192.0.2.0/24", "300.0.0.0/8"`))
	err := f.d.Reload(context.Background())
	if !errors.Is(err, api.ErrReload) || !errors.Is(err, host.ErrSettings) {
		t.Fatalf("Reload: %v, want ErrReload and ErrSettings", err)
	}
	want := fmt.Sprintf(`config not applied: plugin guard on %s: settings refused: prefix "300.0.0.0/8": `, f.ref())
	if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "guard") != 1 {
		t.Errorf("message\n got %q\nwant %q...", err, want)
	}
	if after, _ := f.status(); after.DispatcherID != before.DispatcherID || after.Generation != before.Generation {
		t.Errorf("the chain was swapped: generation %d -> %d", before.Generation, after.Generation)
	}
	f.expectTraffic(true) // the old prefix is still in force
}

// TestCheck is `xdpchain run --check` for plugins: refused settings and a
// config that leaves a plugin no verdict are reported at the plugin's line
// with the plugin's reason; a plugin without Validate is configured with
// its settings against scratch maps, and its refusal reported likewise;
// nothing is put into the live bpffs or state dir.
func TestCheck(t *testing.T) {
	f := newFixture(t)
	path := f.writeConfig("", `
[[plugin]]
name = "guard"
command = "%[2]s"
interfaces = ["%[1]s"]
[plugin.settings]
prefixes = ["192.0.2.0/24", "300.0.0.0/8"]
`+strings.NewReplacer("SELF", selfBin, "REPORT", f.dir+"/report", "SETTINGS", "").Replace(requesterConfig)+`
[[plugin]]
name = "strict"
command = "%[2]s"
interfaces = ["%[1]s"]
allowed_verdicts = ["tx"]
[plugin.settings]
prefixes = ["192.0.2.0/24"]
`+strings.NewReplacer(`name = "req"`, `name = "refuser"`, "SELF", selfBin, "REPORT", f.dir+"/report2", "SETTINGS", `refuse = "the token is not valid"`).Replace(requesterConfig))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := daemon.Check(context.Background(), cfg, daemon.Options{ConfigPath: path, Logger: slog.New(slog.DiscardHandler)})
	errs := config.Errors(err)
	if len(errs) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	line := func(i int) string { return fmt.Sprintf("%s:%d: plugin[%d]", path, cfg.Plugins[i].Line, i) }
	for i, want := range []string{
		line(0) + `.settings: refused by plugin guard: prefix "300.0.0.0/8": `,
		line(2) + ".allowed_verdicts: allowed_verdicts",
		// No Validate: its Configure refused, against scratch maps.
		line(3) + ".settings: refused by plugin refuser: the token is not valid",
	} {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("problem %d\n got %q\nwant %q...", i, errs[i], want)
		}
	}
	if !strings.Contains(errs[1].Error(), "no verdict in common") {
		t.Errorf("allowed_verdicts: %v", errs[1])
	}
	// req has no Validate either: its Configure accepted the settings,
	// with scratch copies of its maps (the blocklist object's).
	if len(notes) != 0 {
		t.Errorf("notes %q, want none: every plugin's settings are checked", notes)
	}
	if b, _ := os.ReadFile(f.dir + "/report"); !strings.Contains(string(b), "configured note= maps=bl_") {
		t.Errorf("req was not configured with its maps during the check: report %q", b)
	}
	if _, err := os.Stat(filepath.Join(f.bpffs, "xdpchain")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--check pinned something: %v", err)
	}
	if entries, _ := os.ReadDir(f.state); len(entries) != 0 {
		t.Errorf("--check left %d entries in the state directory", len(entries))
	}
	t.Logf("problems:\n%v\nnotes: %q", err, notes)
}
