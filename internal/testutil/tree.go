package testutil

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
)

// Tree lists what is under dirs — pins, state files, temporary files,
// symbolic links, directories — as paths relative to each directory with
// its base name first ("bpffs/xdpchain/…"), sorted. A directory that does
// not exist lists nothing. Tests compare two listings to find leftovers.
func Tree(tb testing.TB, dirs ...string) []string {
	tb.Helper()
	var out []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.Base(dir)+"/"+rel)
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// Missing lists what of a is not in b.
func Missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
