package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// jsonLog is the daemon's log as --log-json writes it: one JSON object per
// line.
type jsonLog struct{ buf testutil.Buffer }

func (l *jsonLog) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split([]byte(l.buf.String()), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// wait polls until a record with message msg arrived, and returns it.
func (l *jsonLog) wait(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, r := range l.records(t) {
			if r["msg"] == msg {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record %q in the daemon's log:\n%s", msg, l.buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPluginLogs: what a plugin logs with sdk.Logger and on stderr reaches
// the daemon's handler (JSON here) at its level, tagged with the plugin and
// its interface; starting, reconfiguring, replacing and stopping the
// plugin logs nothing at warning or error.
func TestPluginLogs(t *testing.T) {
	f := newFixture(t)
	cfg := func(args, log, note string) string {
		return strings.NewReplacer("SELF", selfBin, "REPORT", f.dir+"/report",
			`["`+pluginArg+`"]`, `["`+pluginArg+`"`+args+`]`,
			"SETTINGS", "log = \""+log+"\"\nnote = \""+note+"\"").Replace(requesterConfig)
	}
	f.writeConfig("", cfg("", "hello from req", "one"))
	var log jsonLog
	f.start(daemon.Options{Logger: slog.New(slog.NewJSONHandler(&log.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	check := func(msg, level string, attrs map[string]any) {
		t.Helper()
		r := log.wait(t, msg)
		want := map[string]any{"level": level, "plugin": "req", "interface": f.ref()}
		for k, v := range attrs {
			want[k] = v
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("record %q: %s = %v, want %v (record %v)", msg, k, r[k], v, r)
			}
		}
	}
	check("hello from req", "INFO", map[string]any{"note": "one"})
	check("hello from req (debug)", "DEBUG", nil)
	check("hello from req (stderr)", "INFO", map[string]any{"stream": "stderr"})

	// A reload with new settings configures the same process; one with
	// new arguments replaces it.
	f.writeConfig("", cfg("", "reconfigured", "two"))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("reconfigured", "INFO", map[string]any{"note": "two"})
	f.writeConfig("", cfg(`, "again"`, "replaced", "three"))
	if err := f.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("replaced", "INFO", map[string]any{"note": "three"})
	f.stop()
	log.wait(t, "daemon stopped; programs stay in their chains")
	started := 0
	for _, r := range log.records(t) {
		if r["msg"] == "plugin started" && r["logger"] == nil { // the daemon's, not go-plugin's
			started++
		}
		if r["level"] == "WARN" || r["level"] == "ERROR" || r["msg"] == "plugin failed to exit gracefully" {
			t.Errorf("a normal start, reload and stop logged %v", r)
		}
	}
	if started != 2 {
		t.Errorf("%d plugin processes started, want 2 (the reload with new arguments replaces the process)", started)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("daemon log:\n%s", log.buf.String())
	}
}
