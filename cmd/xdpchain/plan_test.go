package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestPlan plans a config against an interface without a root, then with a
// chain another owner changed: it reports what applying would do, and
// touches nothing (no root, no pins, the chain's revision unchanged).
func TestPlan(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNSPrefix(t, "x8-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "x8-pa", NameB: "x8-pb"})
	bpffs, dir := testutil.PrivateBPFFS(t), t.TempDir()
	state := filepath.Join(dir, "state")
	for _, name := range []string{testprogs.Counter, testprogs.Noop} {
		if _, err := testprogs.WriteFile(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	iface := pair.B.Name
	global := []string{"--bpffs", bpffs, "--state-dir", state, "--socket", filepath.Join(dir, "none.sock")}
	t.Cleanup(func() { runCLI(t, append(global, "detach", "--netns", ns.Name, iface)...) })
	write := func(body string) string {
		path := filepath.Join(dir, "config.toml")
		src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\nfallthrough = \"drop\"\n%s",
			bpffs, state, filepath.Join(dir, "none.sock"), iface, ns.Name, body)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	program := func(name, object, extra string) string {
		return fmt.Sprintf("\n[[program]]\nname = %q\nobject = %q\ninterfaces = [%q]\n%s", name, object+".o", iface, extra)
	}
	cfg := write(program("count", "counter", "priority = 20\n"))

	code, out, errOut := runCLI(t, "plan", "--config", cfg)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	ref := ns.Name + "/" + iface
	for _, want := range []string{ref + ": no root yet: one is attached", "~ fall-through pass -> drop", "+ count (config:count) added: slot 0, priority 20"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan without a root lacks %q:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(bpffs, "xdpchain")); len(entries) != 0 {
		t.Errorf("plan left pins: %v", entries)
	}
	if code, _, _ := runCLI(t, append(global, "status", "--netns", ns.Name, iface)...); code == 0 {
		t.Error("plan attached a root")
	}

	// A user's programs, one of them in the way of the config's name.
	runCLI(t, append(global, "load", "--netns", ns.Name, "--name", "mine", "--priority", "30", iface, filepath.Join(dir, "noop.o"))...)
	before := runCLIJSON(t, append(global, "status", "--json", "--netns", ns.Name, iface)...)
	cfg = write(program("count", "counter", "before = \"mine\"\n") + program("first", "noop", "priority = 1\n"))
	code, out, errOut = runCLI(t, "plan", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("plan --json: exit %d: %s", code, errOut)
	}
	var doc struct {
		Interfaces []struct {
			Interface string `json:"interface"`
			Revision  uint64 `json:"revision"`
			Unchanged int    `json:"unchanged"`
			Changes   []struct {
				Program, Owner, Change, Detail string
			} `json:"changes"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	var got []string
	for _, c := range doc.Interfaces[0].Changes {
		got = append(got, c.Change+" "+c.Program+" "+c.Detail)
	}
	if want := "[added first slot 0, priority 1 added count slot 1, priority 30]"; len(doc.Interfaces) != 1 || fmt.Sprint(got) != want || doc.Interfaces[0].Unchanged != 1 || doc.Interfaces[0].Revision != 1 {
		t.Errorf("plan with a user's program: %+v, changes %v; want %s, 1 unchanged, revision 1", doc.Interfaces, got, want)
	}
	if after := runCLIJSON(t, append(global, "status", "--json", "--netns", ns.Name, iface)...); after != before {
		t.Errorf("plan changed the chain:\n%s\nwas\n%s", after, before)
	}

	// A name a user's program holds: the config takes it back (the
	// user's program makes way), and plan shows the config's program in
	// its place.
	cfg = write(program("mine", "noop", ""))
	if code, out, errOut = runCLI(t, "plan", "--config", cfg); code != 0 || !strings.Contains(out, "mine (config:mine)") {
		t.Errorf("plan over a user's name: exit %d, %q, %q", code, out, errOut)
	}
	// An invalid file.
	cfg = write(program("x", "missing", ""))
	if code, _, errOut = runCLI(t, "plan", "--config", cfg); code != 1 || !strings.Contains(errOut, "missing.o") {
		t.Errorf("plan of an invalid file: exit %d, %q", code, errOut)
	}
}

// runCLIJSON runs a command that must succeed and returns its stdout with
// the packet counters dropped (traffic may move them).
func runCLIJSON(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("xdpchain %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, itf := range doc["interfaces"].([]any) {
		m := itf.(map[string]any)
		delete(m, "fallthrough_packets")
		for _, p := range m["programs"].([]any) {
			delete(p.(map[string]any), "stats")
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}
