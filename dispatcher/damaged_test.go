package dispatcher_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestDamagedRootDetach damages a root's state (state.json missing or
// corrupt, counters gone): Open says it is damaged, `status` lists it as
// DAMAGED instead of hiding it with the exact command that removes it, and
// that command (`xdpchain detach`) removes the root and everything
// xdpchain pinned.
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
			var de *dispatcher.DamagedError
			if !errors.Is(err, dispatcher.ErrDamaged) || !errors.As(err, &de) || de.Interface != f.iface() || de.NetNS != f.recv.Name {
				t.Errorf("Open of a damaged root: %v; want a DamagedError naming %s in %s", err, f.iface(), f.recv.Name)
			}
			all, err := dispatcher.List(f.opts())
			if err != nil || len(all) != 1 || all[0].Damaged == "" || all[0].Ifindex != st.Ifindex || all[0].DispatcherID != st.DispatcherID || all[0].NetNSInode != st.NetNSInode {
				t.Errorf("List with a damaged root: %+v, %v; want it listed as damaged", all, err)
			}
			// status (of every root, the name found from the namespace when
			// the state is gone) says DAMAGED and the exact command that
			// removes it: the one run below.
			out, errOut, code := runBin(t, "--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status")
			cmd := regexp.MustCompile("`xdpchain ([^`]*)` removes it").FindStringSubmatch(out)
			if code != 0 || !strings.Contains(out, f.iface()+" (ifindex") || !strings.Contains(out, "DAMAGED") || cmd == nil {
				t.Fatalf("xdpchain status: exit %d, %q, %q; want the root shown by name as DAMAGED with the command that removes it", code, out, errOut)
			}
			if want := fmt.Sprintf("--bpffs %s --state-dir %s --no-daemon detach --netns %s %s", f.bpffs, f.stateDir, f.recv.Name, f.iface()); cmd[1] != want {
				t.Errorf("status advises `xdpchain %s`, want `xdpchain %s`", cmd[1], want)
			}
			// The CLI's error of a verb on it names the same command.
			if _, errOut, code := runBin(t, append(f.cliArgs(), "--no-daemon", "unload", "--name", "counter", f.iface())...); code == 0 || !strings.Contains(errOut, "`xdpchain --bpffs "+f.bpffs+" --state-dir "+f.stateDir+" --no-daemon detach --netns "+f.recv.Name+" "+f.iface()+"` removes it") {
				t.Errorf("unload of a damaged root: exit %d, %q; want the detach command", code, errOut)
			}

			if _, errOut, code := runBin(t, strings.Fields(cmd[1])...); code != 0 {
				t.Fatalf("xdpchain %s (a damaged root): exit %d: %s", cmd[1], code, errOut)
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
