package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

func isBPFFS(t *testing.T, dir string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return st.Type == unix.BPF_FS_MAGIC
}

// TestPrivateBPFFS checks that the directory is a bpffs of its own that
// takes pins, and that it is gone, pins included, after the test.
func TestPrivateBPFFS(t *testing.T) {
	RequireRoot(t)
	var dir string
	var id ebpf.MapID
	t.Run("mounted", func(t *testing.T) {
		dir = PrivateBPFFS(t)
		if !isBPFFS(t, dir) {
			t.Fatalf("%s is not a bpffs", dir)
		}
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode & 0o777; perm != 0o700 {
			t.Errorf("mode %o, want 0700", perm)
		}
		if other := PrivateBPFFS(t); other == dir || !isBPFFS(t, other) {
			t.Errorf("second bpffs %s (first %s) is not a bpffs of its own", other, dir)
		}
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.Pin(filepath.Join(dir, "m")); err != nil {
			t.Fatalf("pinning in %s: %v", dir, err)
		}
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ = info.ID()
	})
	if dir == "" {
		t.Fatal("subtest did not run")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after the test: %v", dir, err)
	}
	// The pin was the map's last reference: the kernel frees it (the free
	// is deferred, so poll briefly).
	if id != 0 {
		if !waitMapGone(id) {
			t.Errorf("map %d pinned in the private bpffs still exists after the unmount", id)
		}
	}
}

// waitMapGone polls until no map has the id, for up to five seconds.
func waitMapGone(id ebpf.MapID) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m, err := ebpf.NewMapFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			return true
		}
		if err == nil {
			m.Close()
		}
	}
	return false
}
