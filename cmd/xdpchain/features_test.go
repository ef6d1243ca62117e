package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestFeatures checks that every probe is reported, with a reason for
// each "no", and that the freplace verdict agrees with the harness's own
// probe.
func TestFeatures(t *testing.T) {
	vmtest.LogWhere(t)
	code, out, errOut := runCLI(t, "features", "--json")
	if code != 0 {
		t.Fatalf("features --json: exit %d: %s", code, errOut)
	}
	var doc struct {
		Features      []dispatcher.Feature `json:"features"`
		Mechanisms    []dispatcher.Feature `json:"mechanisms"`
		AutoMechanism dispatcher.Mechanism `json:"auto_mechanism"`
		Reason        string               `json:"mechanism_reason"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("features --json: %v\n%s", err, out)
	}
	found := map[string]dispatcher.Feature{}
	for _, f := range doc.Features {
		t.Logf("%s: %v %s", f.Name, f.Supported, f.Reason)
		if !f.Supported && f.Reason == "" {
			t.Errorf("%s unsupported without a reason", f.Name)
		}
		for _, key := range []string{"attach", "update", "freplace", "frags", "TEST_RUN"} {
			if strings.Contains(f.Name, key) {
				found[key] = f
			}
		}
	}
	if len(found) != 5 {
		t.Errorf("features found %v, want attach, update, freplace, frags and test run", found)
	}
	for _, key := range []string{"attach", "update", "TEST_RUN"} {
		if !found[key].Supported {
			t.Errorf("%s unsupported on a kernel that runs these tests: %s", found[key].Name, found[key].Reason)
		}
	}
	freplace := vmtest.ProbeFreplace() == nil
	if found["freplace"].Supported != freplace {
		t.Errorf("features says freplace %v, the harness probe %v", found["freplace"].Supported, freplace)
	}
	// Inline needs only XDP and is the fastest: auto picks it everywhere.
	if doc.AutoMechanism != dispatcher.Inline || doc.Reason == "" {
		t.Errorf("auto mechanism %q (%q), want inline with a reason", doc.AutoMechanism, doc.Reason)
	}
	mechs := map[string]dispatcher.Feature{}
	for _, m := range doc.Mechanisms {
		mechs[m.Name] = m
	}
	if !mechs["inline"].Supported || !mechs["linked"].Supported || mechs["freplace"].Supported != freplace ||
		(!freplace && mechs["freplace"].Reason == "") {
		t.Errorf("mechanisms %+v, want inline and linked supported and freplace %v with a reason when not", doc.Mechanisms, freplace)
	}

	code, table, _ := runCLI(t, "features")
	if code != 0 || strings.Count(table, "\n") < 6 || !strings.Contains(table, "slot mechanism (auto)") {
		t.Errorf("features table: exit %d\n%s", code, table)
	}
	if !freplace && !strings.Contains(table, "no: ") {
		t.Errorf("features table does not say why freplace is missing:\n%s", table)
	}
}

// TestUsageErrors checks that any command line the CLI cannot run exits
// 1 with one line.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"load"},
		{"unload"},
		{"detach", "a", "b"},
		{"status", "--bogus"},
		{"features", "extra"},
		{"plan", "extra"},
		{"plan", "--config", "/nonexistent/config.toml"},
		{"load", "--before", "a", "--after", "b", "eth0", "/dev/null"},
		{"unload", "--expected-revision", "x", "--all", "eth0"},
	} {
		code, _, errOut := runCLI(t, args...)
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "xdpchain: ") {
			t.Errorf("xdpchain %v: exit %d, stderr %q; want exit 1 and one line", args, code, errOut)
		}
	}
}
