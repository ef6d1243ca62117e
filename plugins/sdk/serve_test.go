package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestLogger checks the records' format: hclog's JSON layout, which the
// daemon parses and re-logs at the record's level (go-plugin's own parser
// reads it too).
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, slog.LevelDebug)
	l.Warn("feed stale", "age", "5m", slog.Group("feed", "url", "https://example.net/x"))
	l.Debug("fetched", "n", 3)
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("want 2 records:\n%s", buf.Bytes())
	}
	var rec map[string]any
	if err := json.Unmarshal(lines[0], &rec); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	if rec["@level"] != "warn" || rec["@message"] != "feed stale" || rec["age"] != "5m" {
		t.Errorf("record %v", rec)
	}
	if g, _ := rec["feed"].(map[string]any); g["url"] != "https://example.net/x" {
		t.Errorf("group %v", rec["feed"])
	}
	ts, _ := rec["@timestamp"].(string)
	if _, err := time.Parse(hclogTimeFormat, ts); err != nil {
		t.Errorf("@timestamp %q is not in hclog's layout: %v", ts, err)
	}
	if err := json.Unmarshal(lines[1], &rec); err != nil || rec["@level"] != "debug" {
		t.Errorf("debug record %s: %v", lines[1], err)
	}
	buf.Reset()
	newLogger(&buf, slog.LevelInfo).Debug("skipped")
	if buf.Len() != 0 {
		t.Errorf("a debug record below the daemon's level was written: %s", buf.Bytes())
	}
	if first, second := Logger(), Logger(); first != second {
		t.Error("Logger returns a new logger on each call")
	}
}
