package dispatcher

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDirChecksOnePerOperation: one operation's dirChecks checks each
// directory above the one it uses once, but always the one it uses (a
// symbolic link put there later is refused, a directory removed is made
// again); the next operation (a new dirChecks) checks everything again.
func TestDirChecksOnePerOperation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the trees must belong to the effective user, and /tmp's ancestors to root")
	}
	base := filepath.Join(t.TempDir(), "base")
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "a", "b"), filepath.Join(base, "a", "c")
	op := newDirChecks()
	for _, dir := range []string{b, c} {
		if exists, err := op.secureDir(base, dir, true); err != nil || !exists {
			t.Fatalf("secureDir(%s): %v, %v; want it made", dir, exists, err)
		}
	}
	if !op.ancestors[base] || !op.dirs[base] || !op.dirs[a] {
		t.Fatalf("checked %v %v; want base's ancestors, base and a remembered", op.ancestors, op.dirs)
	}

	// The directory used is looked at every time.
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if exists, err := op.secureDir(base, b, true); err != nil || !exists {
		t.Fatalf("secureDir(%s) after its removal: %v, %v; want it made again", b, exists, err)
	}
	if exists, err := op.secureDir(base, b, false); err != nil || !exists {
		t.Fatalf("secureDir(%s) without create: %v, %v", b, exists, err)
	}
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if exists, err := op.secureDir(base, b, false); err != nil || exists {
		t.Fatalf("secureDir(%s) removed, without create: %v, %v; want it reported missing", b, exists, err)
	}
	if err := os.Symlink(t.TempDir(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := op.secureDir(base, b, true); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("secureDir(%s), a symbolic link: %v; want ErrUnsafeDir", b, err)
	}

	// A directory above made unsafe: the next operation refuses it.
	if err := os.Chmod(a, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := newDirChecks().secureDir(base, c, false); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("a new operation's secureDir(%s) under a world-writable %s: %v; want ErrUnsafeDir", c, a, err)
	}
	if _, err := secureDir(base, c, false); !errors.Is(err, ErrUnsafeDir) {
		t.Fatalf("secureDir(%s) under a world-writable %s: %v; want ErrUnsafeDir", c, a, err)
	}
}
