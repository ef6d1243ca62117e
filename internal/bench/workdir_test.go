package bench

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestWorkDir(t *testing.T) {
	testutil.RequireRoot(t)
	for _, withBPFFS := range []bool{false, true} {
		w, err := newWorkDir(withBPFFS)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(w.state()); err != nil || !fi.IsDir() {
			t.Errorf("state directory %s: %v", w.state(), err)
		}
		var st unix.Statfs_t
		err = unix.Statfs(w.bpffs(), &st)
		if isBPFFS := err == nil && st.Type == unix.BPF_FS_MAGIC; isBPFFS != withBPFFS {
			t.Errorf("bpffs at %s: %v (type %#x), want one: %v", w.bpffs(), err, st.Type, withBPFFS)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(w.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("work directory %s left behind: %v", w.dir, err)
		}
	}
}
