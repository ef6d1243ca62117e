package dispatcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestKilledCreatingRoot: a process killed while it creates a root, after
// the root's state is written and before its link is pinned (the last
// step), leaves a state without a pinned link, and no root: the link went
// with the process. The next Attach starts over (a fresh, empty root), and
// Open and List report the interface as not attached, not as damaged.
// (With the link pinned first, the same kill left a root attached without
// state: damaged, until someone detached it by hand.)
func TestKilledCreatingRoot(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	extra := testutil.NewVethPair(t, f.recv, f.recv, nil)
	r, err := dispatcher.Attach(extra.A.Name, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	st := status(t, r)
	// The kill: the link's pin goes, then the process's handle on it.
	if err := os.Remove(filepath.Join(pinDirOf(f, st), "link")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := os.Stat(filepath.Join(stateDirOf(f, st), "state.json")); err != nil {
		t.Fatalf("the root's state: %v", err)
	}

	if _, err := dispatcher.Open(extra.A.Name, f.opts()); !errors.Is(err, dispatcher.ErrNotAttached) || errors.Is(err, dispatcher.ErrDamaged) {
		t.Errorf("Open: %v, want ErrNotAttached", err)
	}
	all, err := dispatcher.List(&dispatcher.Options{BPFFS: f.bpffs, StateDir: f.stateDir})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Ifindex == st.Ifindex && s.NetNSInode == st.NetNSInode {
			t.Errorf("List shows the root that never got its link pinned: %+v", s)
		}
	}
	r, err = dispatcher.Attach(extra.A.Name, f.opts())
	if err != nil {
		t.Fatalf("Attach after the kill: %v", err)
	}
	defer r.Close()
	add(t, r, program(t, testprogs.Counter, "counter"))
	again := status(t, r)
	if again.LinkID == st.LinkID || len(again.Programs) != 1 {
		t.Errorf("after the kill, Attach gave link %d (was %d) with %d programs, want a new link running counter", again.LinkID, st.LinkID, len(again.Programs))
	}
}

// TestFreplaceLinksLostRebuilt: an extension's link is pinned when its
// generation commits, after the swap; a process killed in between leaves
// the root running with that slot empty and a state that names the
// program. The next change of the same chain must not take it for
// unchanged: it builds the generation again, and the extension runs.
func TestFreplaceLinksLostRebuilt(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.Require(t, dispatcher.Freplace)
	f := newFixture(t, dispatcher.Freplace)
	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "counter"))
	st := status(t, r)
	if len(st.Programs) != 1 || st.Programs[0].Placement != dispatcher.PlacementFreplace {
		t.Fatalf("chain %+v, want counter as an extension", st.Programs)
	}
	// The kill: the link's pin is gone, and with it the extension.
	link := filepath.Join(pinDirOf(f, st), "links", "counter")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	changed, err := r.Update(func(*dispatcher.Spec) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("the same chain with its extension's link lost was taken for unchanged")
	}
	if _, err := os.Stat(link); err != nil {
		t.Errorf("after the next change: %v", err)
	}
	if again := status(t, r); again.DispatcherID == st.DispatcherID {
		t.Errorf("dispatcher %d still runs, want a new generation", again.DispatcherID)
	}
}
