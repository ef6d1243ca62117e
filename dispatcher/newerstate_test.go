package dispatcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestNewerStateLeftAlone: a root whose state.json has a newer format than
// this build knows (written by a later release) is refused by Open, Attach
// and Status with ErrNewerState and a message saying what to do, never
// called damaged, and nothing in its pins or state is changed or removed
// (not even a pending file).
func TestNewerStateLeftAlone(t *testing.T) {
	vmtest.LogWhere(t)
	r, opts := attachLo(t)
	// Mark the state as a later release's.
	path := r.pins.stateFile()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = stateVersion + 1
	m["mechanism"] = "teleport" // a mechanism of the later release
	newer, _ := json.Marshal(m)
	if err := os.WriteFile(path, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	pending := r.pins.pendingFile()
	if err := os.WriteFile(pending, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	before := testutil.Tree(t, opts.BPFFS, opts.StateDir)
	check := func(what string, err error) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s of a root with a newer state format succeeded", what)
		case !errors.Is(err, ErrNewerState) || errors.Is(err, ErrDamaged):
			t.Errorf("%s: %v, want ErrNewerState and not ErrDamaged", what, err)
		case !strings.Contains(err.Error(), "change this root with that release or a later one") || strings.Contains(err.Error(), "detach"):
			t.Errorf("%s: %q does not say what to do (or advises detaching)", what, err)
		}
	}
	r2, err := Open("lo", opts)
	if err == nil {
		r2.Close()
	}
	check("Open", err)
	r2, err = Attach("lo", opts)
	if err == nil {
		r2.Close()
	}
	check("Attach", err)
	_, err = r.Status()
	check("Status", err)
	if after := testutil.Tree(t, opts.BPFFS, opts.StateDir); !slices.Equal(before, after) {
		t.Errorf("pins and state changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, f := range []string{path, pending} {
		if got, _ := os.ReadFile(f); !bytes.Equal(got, newer) {
			t.Errorf("%s was rewritten", f)
		}
	}
	// Back to this build's format, so that the cleanup detaches it.
	os.Remove(pending)
	os.WriteFile(path, b, 0o600)
}
