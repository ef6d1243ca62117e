package dispatcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestDamagedRootDetach damages a root's state (state.json missing or
// corrupt, counters gone): Open says it is damaged and to detach, `status`
// lists it as DAMAGED instead of hiding it, and `xdpchain detach` removes
// the root and everything xdpchain pinned.
func TestDamagedRootDetach(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	for _, tc := range []struct {
		name   string
		damage func(stateDir, pinDir string) error
	}{
		{"state.json missing", func(s, _ string) error { return os.Remove(filepath.Join(s, "state.json")) }},
		{"state.json corrupt", func(s, _ string) error {
			return os.WriteFile(filepath.Join(s, "state.json"), []byte("{\"version\": 1, \"progr"), 0o600)
		}},
		{"counters missing", func(_, p string) error { return os.Remove(filepath.Join(p, "stats")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.attach(t)
			add(t, r, program(t, testprogs.Counter, "counter"))
			st := status(t, r)
			r.Close()
			if err := tc.damage(stateDirOf(f, st), pinDirOf(f, st)); err != nil {
				t.Fatal(err)
			}

			_, err := dispatcher.Open(f.iface(), f.opts())
			if !errors.Is(err, dispatcher.ErrDamaged) || !strings.Contains(err.Error(), "xdpchain detach") {
				t.Errorf("Open of a damaged root: %v; want ErrDamaged saying to detach", err)
			}
			all, err := dispatcher.List(f.opts())
			if err != nil || len(all) != 1 || all[0].Damaged == "" || all[0].Ifindex != st.Ifindex || all[0].DispatcherID != st.DispatcherID || all[0].NetNSInode != st.NetNSInode {
				t.Errorf("List with a damaged root: %+v, %v; want it listed as damaged", all, err)
			}
			out, errOut, code := runBin(t, "--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status")
			if code != 0 || !strings.Contains(out, "DAMAGED") {
				t.Errorf("xdpchain status: exit %d, %q, %q; want the root shown as DAMAGED", code, out, errOut)
			}

			if _, errOut, code := runBin(t, append(f.cliArgs(), "--no-daemon", "detach", f.iface())...); code != 0 {
				t.Fatalf("xdpchain detach of a damaged root: exit %d: %s", code, errOut)
			}
			if x := xdpOf(t, f.recv, f.iface()); x != nil {
				t.Errorf("after detach: XDP program %d still attached", x.ProgId)
			}
			for _, dir := range []string{pinDirOf(f, st), stateDirOf(f, st)} {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after detach: %s still there (%v)", dir, err)
				}
			}
			if err := dispatcher.DetachInterface(f.iface(), f.opts()); !errors.Is(err, dispatcher.ErrNotAttached) {
				t.Errorf("detaching again: %v, want ErrNotAttached", err)
			}
		})
	}
}
