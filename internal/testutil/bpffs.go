package testutil

import (
	"testing"

	"golang.org/x/sys/unix"
)

// PrivateBPFFS mounts a bpffs (mode 0700) on a new temporary directory for
// one test and returns its path. Unmounting it when the test ends releases
// every pin in it, and with them any root or program a test left attached.
func PrivateBPFFS(tb testing.TB) string {
	tb.Helper()
	RequireRoot(tb)
	dir := tb.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		tb.Fatalf("mounting bpffs at %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmounting bpffs %s: %v", dir, err)
		}
	})
	return dir
}
