package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestPlanPluginSettings: when only a plugin's settings change, plan shows
// each changed setting per plugin and interface, against the settings the
// running daemon has; a value the plugin marks secret is compared by a
// salted digest and never shown, in the daemon's status, the plan or the
// CLI's output.
func TestPlanPluginSettings(t *testing.T) {
	f := newFixture(t)
	report := filepath.Join(f.dir, "report")
	cfg := func(note, token string) string {
		return f.writeConfig("", strings.NewReplacer("SELF", selfBin, "REPORT", report, "SETTINGS", fmt.Sprintf("note = %q\ntoken = %q", note, token)).Replace(requesterConfig))
	}
	cfg("one", "s3cret-one")
	f.start(daemon.Options{})
	f.waitPlugin("req", func(p api.PluginStatus) bool { return p.State == api.StateRunning })
	st, err := f.d.Status("", "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(st); strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"token":"(secret sha256:`) {
		t.Errorf("the daemon's status shows the secret, or not its digest: %s", b)
	}
	plan := func(path string) []daemon.InterfacePlan {
		t.Helper()
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		plans, err := daemon.Plan(c)
		if err != nil {
			t.Fatal(err)
		}
		daemon.PlanSettings(plans, c, st)
		return plans
	}
	if plans := plan(cfg("one", "s3cret-one")); len(plans) != 1 || plans[0].Changed() {
		t.Errorf("the config in force plans changes: %+v", plans)
	}
	path := cfg("two", "s3cret-two")
	plans := plan(path)
	if len(plans) != 1 || len(plans[0].PluginSettings) != 2 || !plans[0].Changed() {
		t.Fatalf("plan of new settings: %+v, want the two settings changed", plans)
	}
	note, token := plans[0].PluginSettings[0], plans[0].PluginSettings[1]
	if note != (daemon.SettingChange{Plugin: "req", Key: "note", Old: `"one"`, New: `"two"`}) {
		t.Errorf("note: %+v", note)
	}
	if token.Key != "token" || !strings.HasPrefix(token.Old, "(secret sha256:") || !strings.HasPrefix(token.New, "(secret sha256:") || token.Old == token.New {
		t.Errorf("token: %+v, want two different digests", token)
	}
	// The CLI asks the daemon of the config's socket.
	out, errOut, err := testutil.RunXDPChain(t, testutil.XDPChainBinary(t), "plan", "--config", path)
	if err != nil || !strings.Contains(out, `~ plugin req setting note: "one" -> "two"`) || !strings.Contains(out, "~ plugin req setting token: (secret sha256:") || strings.Contains(out+errOut, "s3cret") {
		t.Errorf("xdpchain plan: %v\n%s%s", err, out, errOut)
	}
	// Without a daemon, plan says it cannot know.
	f.stop()
	out, _, _ = testutil.RunXDPChain(t, testutil.XDPChainBinary(t), "plan", "--config", path)
	if !strings.Contains(out, "note: plugin req: its settings in force are known only to a running daemon") {
		t.Errorf("xdpchain plan without a daemon:\n%s", out)
	}
}
