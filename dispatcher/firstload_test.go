package dispatcher_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink/nl"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestFailedFirstLoadLeavesNoRoot loads a program the verifier rejects on
// a clean interface, with the library and with `xdpchain load`: the
// interface is left as it was (no root, no pins, no state), so iproute2
// attaches there without EBUSY. A first change that succeeds keeps the
// root. A first Update whose fn refuses keeps it.
func TestFailedFirstLoadLeavesNoRoot(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	expectClean := func(t *testing.T, after string) {
		t.Helper()
		if x := xdpOf(t, f.recv, f.iface()); x != nil {
			t.Errorf("after %s: XDP program %d still attached to %s", after, x.ProgId, f.iface())
		}
		for _, dir := range []string{filepath.Join(f.bpffs, "xdpchain"), f.stateDir} {
			filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
				// The instance's ID is the state dir's, not the root's.
				if err == nil && !e.IsDir() && path != filepath.Join(f.stateDir, "instance") {
					t.Errorf("after %s: %s left behind", after, path)
				}
				return nil
			})
		}
		// An iproute2-style attach (netlink, no bpf_link) is not refused.
		prog := loadVerdictProgram(t, testprogs.VerdictPass)
		if err := netlinkAttach(f.recv, f.iface(), prog.FD(), nl.XDP_FLAGS_SKB_MODE); err != nil {
			t.Errorf("after %s: attaching by netlink: %v", after, err)
		} else if err := netlinkAttach(f.recv, f.iface(), -1, nl.XDP_FLAGS_SKB_MODE); err != nil {
			t.Fatalf("detaching by netlink: %v", err)
		}
	}

	r, err := dispatcher.Attach(f.iface(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, program(t, testprogs.Bad, "bad"))
		return nil
	})
	r.Close()
	if !errors.Is(err, dispatcher.ErrLoad) {
		t.Fatalf("loading a rejected program: %v, want ErrLoad", err)
	}
	expectClean(t, "a failed first Update")

	bad, err := testprogs.WriteFile(t.TempDir(), testprogs.Bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runBin(t, append(f.cliArgs(), "--no-daemon", "load", f.iface(), bad)...); code == 0 {
		t.Fatalf("xdpchain load of a rejected program succeeded: %s", errOut)
	}
	expectClean(t, "a failed first `xdpchain load`")

	// The root stays once the first Update did not fail in its apply.
	for _, first := range []struct {
		what string
		fn   func(*dispatcher.Spec) error
	}{
		{"succeeds with an empty chain", func(*dispatcher.Spec) error { return nil }},
		{"refuses in its fn", func(*dispatcher.Spec) error { return errors.New("no change wanted") }},
	} {
		t.Run("first Update "+first.what, func(t *testing.T) {
			r := f.attach(t)
			r.Update(first.fn)
			_, err := r.Update(func(s *dispatcher.Spec) error {
				s.Programs = append(s.Programs, program(t, testprogs.Bad, "bad"))
				return nil
			})
			if !errors.Is(err, dispatcher.ErrLoad) {
				t.Fatalf("loading a rejected program: %v, want ErrLoad", err)
			}
			if x := xdpOf(t, f.recv, f.iface()); x == nil {
				t.Error("a failed second change detached the root the first kept")
			}
			if err := r.Detach(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
