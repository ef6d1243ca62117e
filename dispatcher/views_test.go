package dispatcher_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestViewsAgreeAfterKillBetweenSwapAndCommit recreates what a process
// killed between the swap and the commit leaves: the kernel runs the new
// generation, state.json still describes the old one and
// state.json.pending the new one. Every view (Status, List, `xdpchain
// status` with and without IFACE) shows what the kernel runs.
func TestViewsAgreeAfterKillBetweenSwapAndCommit(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "counter"))
	stateFile := filepath.Join(stateDirOf(f, status(t, r)), "state.json")
	old, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	add(t, r, program(t, testprogs.DropPort, "dropport"))
	want := status(t, r)
	r.Close()
	// The crash: the new state back to pending, the old one committed.
	if err := os.Rename(stateFile, stateFile+".pending"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if x := xdpOf(t, f.recv, f.iface()); x == nil || x.ProgId != want.DispatcherID {
		t.Fatalf("the kernel runs %+v, want dispatcher %d", x, want.DispatcherID)
	}

	check := func(view string, got []dispatcher.InterfaceStatus) {
		t.Helper()
		if len(got) != 1 || got[0].DispatcherID != want.DispatcherID || got[0].Generation != want.Generation || len(got[0].Programs) != 2 {
			t.Errorf("%s: %+v; want the running generation %d (dispatcher %d, 2 programs)", view, got, want.Generation, want.DispatcherID)
		}
	}
	r, err = dispatcher.Open(f.iface(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check("Status", []dispatcher.InterfaceStatus{*status(t, r)})
	all, err := dispatcher.List(f.opts())
	if err != nil {
		t.Fatal(err)
	}
	check("List", all)
	for _, args := range [][]string{
		{"--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status", "--json"},
		append(f.cliArgs(), "--no-daemon", "status", "--json", f.iface()),
	} {
		out, errOut, code := runBin(t, args...)
		var doc struct {
			Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
		}
		if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
			t.Fatalf("xdpchain %v: exit %d, %v: %s", args, code, err, errOut)
		}
		check("xdpchain "+args[len(args)-1], doc.Interfaces)
	}
}
