package sdk

import (
	"encoding/json"
	"io"
	"os"
	"testing"
)

// TestLogger checks that the logger writes go-plugin's JSON log format,
// which the daemon parses and re-logs at the record's level.
func TestLogger(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	Logger().Warn("feed stale", "age", "5m")
	os.Stderr = stderr
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if rec["@level"] != "warn" || rec["@message"] != "feed stale" || rec["age"] != "5m" || rec["@timestamp"] == nil {
		t.Errorf("record %v", rec)
	}
}
