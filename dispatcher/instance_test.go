package dispatcher_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestOtherInstanceRoots: two instances (two state dirs) share one bpffs,
// each with a root on its own interface. Each sees the other's root as
// foreign, named by the other's state dir, never as damaged; it cannot
// open, attach over, change or detach it, and its own changes (with their
// clean-up of stale roots) leave it as it was. `status` says "foreign",
// never "DAMAGED" or "detach", about it; `status --netns` lists only that
// namespace's roots.
func TestOtherInstanceRoots(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	// Instance B: the other end of the pair, another state dir.
	otherState := t.TempDir()
	bOpts := &dispatcher.Options{NetNS: f.send.Name, BPFFS: f.bpffs, StateDir: otherState, Mechanism: dispatcher.Linked}
	bRoot, err := dispatcher.Attach(f.pair.A.Name, bOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bRoot.Close(); dispatcher.DetachInterface(f.pair.A.Name, bOpts) })
	add(t, bRoot, program(t, testprogs.Counter, "theirs"))
	before := status(t, bRoot)

	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "mine"))

	// Every namespace's roots (no NetNS).
	all, err := dispatcher.List(&dispatcher.Options{BPFFS: f.bpffs, StateDir: f.stateDir})
	if err != nil || len(all) != 2 {
		t.Fatalf("List: %+v, %v; want two roots", all, err)
	}
	var theirs *dispatcher.InterfaceStatus
	for i := range all {
		if all[i].Ifindex == before.Ifindex && all[i].NetNSInode == before.NetNSInode {
			theirs = &all[i]
		}
	}
	if theirs == nil || theirs.Foreign == nil || theirs.Damaged != "" || theirs.Foreign.StateDir != otherState || theirs.Name != f.pair.A.Name {
		t.Fatalf("the other instance's root in List: %+v; want Foreign naming %s, not damaged, named %s", theirs, otherState, f.pair.A.Name)
	}
	if _, err := dispatcher.Open(f.pair.A.Name, &dispatcher.Options{NetNS: f.send.Name, BPFFS: f.bpffs, StateDir: f.stateDir}); !errors.Is(err, dispatcher.ErrOtherInstance) || errors.Is(err, dispatcher.ErrDamaged) || !strings.Contains(err.Error(), otherState) {
		t.Errorf("Open of the other instance's root: %v; want ErrOtherInstance naming %s", err, otherState)
	}
	if _, err := dispatcher.Attach(f.pair.A.Name, &dispatcher.Options{NetNS: f.send.Name, BPFFS: f.bpffs, StateDir: f.stateDir}); !errors.Is(err, dispatcher.ErrOtherInstance) {
		t.Errorf("Attach over the other instance's root: %v; want ErrOtherInstance", err)
	}
	if err := dispatcher.DetachInterface(f.pair.A.Name, &dispatcher.Options{NetNS: f.send.Name, BPFFS: f.bpffs, StateDir: f.stateDir}); !errors.Is(err, dispatcher.ErrOtherInstance) {
		t.Errorf("DetachInterface of the other instance's root: %v; want ErrOtherInstance", err)
	}
	// A change of ours (which prunes stale roots) and the CLI's views.
	add(t, r, program(t, testprogs.Noop, "mine2"))
	for _, args := range [][]string{
		{"--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status"},
		{"--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status", "--netns", f.send.Name},
		{"--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status", "--netns", f.send.Name, f.pair.A.Name},
		{"--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "top", "--once", "--interval", "10ms", "--netns", f.send.Name},
	} {
		out, errOut, code := runBin(t, args...)
		t.Logf("xdpchain %s:\n%s", strings.Join(args, " "), out)
		want := "foreign: managed by the instance at " + otherState
		if args[5] == "top" {
			want = "foreign: managed by the instance at" // top cuts lines at 80 columns
		}
		if code != 0 || !strings.Contains(out, f.pair.A.Name) || !strings.Contains(out, want) {
			t.Errorf("xdpchain %s: exit %d, %q, %q; want the other's root by name as foreign", strings.Join(args, " "), code, out, errOut)
		}
		if strings.Contains(strings.ToLower(out), "damaged") || strings.Contains(out, "detach") {
			t.Errorf("xdpchain %s says damaged or detach about another instance's root:\n%s", strings.Join(args, " "), out)
		}
		if slices.Contains(args, "--netns") && strings.Contains(out, f.iface()) {
			t.Errorf("xdpchain %s lists %s of another namespace:\n%s", strings.Join(args, " "), f.iface(), out)
		}
	}
	after := status(t, bRoot)
	if after.DispatcherID != before.DispatcherID || after.Generation != before.Generation || len(after.Programs) != 1 {
		t.Errorf("the other instance's root changed: %+v, was %+v", after, before)
	}
}
