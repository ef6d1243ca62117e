package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got := Tree(t, dir, filepath.Join(dir, "absent"))
	if want := []string{"state/.", "state/a", "state/a/f", "state/link"}; !slices.Equal(got, want) {
		t.Errorf("Tree = %q, want %q", got, want)
	}
	if m := Missing(got, []string{"state/.", "state/a"}); !slices.Equal(m, []string{"state/a/f", "state/link"}) {
		t.Errorf("Missing = %q", m)
	}
}
