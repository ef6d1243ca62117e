// Package bpffstest gives the plugin packages' tests a private directory in
// bpffs, mounting bpffs at /sys/fs/bpf first when it is not mounted.
package bpffstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// Root is where bpffs is expected.
const Root = "/sys/fs/bpf"

// Dir returns a new directory under /sys/fs/bpf/xdpchain-test, removed with
// everything in it when the test ends.
func Dir(tb testing.TB) string {
	tb.Helper()
	testutil.RequireRoot(tb)
	if err := ensureMounted(); err != nil {
		tb.Fatal(err)
	}
	base := filepath.Join(Root, "xdpchain-test")
	if err := os.MkdirAll(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "plugins-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}

func ensureMounted() error {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", Root, err)
	}
	if st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if err := unix.Mount("bpf", Root, "bpf", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mounting bpffs at %s: %w", Root, err)
	}
	return nil
}
