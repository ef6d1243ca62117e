package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `xdpchain version` and `--version` print the version, the
// commit and the Go version; --json as an object.
func TestVersionVerb(t *testing.T) {
	for _, args := range [][]string{{"version"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "xdpchain ") || !strings.Contains(out, "\ncommit ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("xdpchain %v: exit %d, %q, %q", args, code, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "version", "--json")
	var b buildInfo
	if err := json.Unmarshal([]byte(out), &b); code != 0 || err != nil || b.Version == "" || b.Go != runtime.Version() {
		t.Errorf("version --json: exit %d, %v, %q", code, err, out)
	}
}
