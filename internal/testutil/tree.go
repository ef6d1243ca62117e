package testutil

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// KeptTree is Tree of a bpffs and a state directory with the digests that
// name the programs kept verified alone (<bpffs>/xdpchain/programs/<digest>,
// and each root's alone/<digest> reference) replaced by what runs them: the
// interfaces' committed chains' programs whose state names the digest,
// "kept(<netns inode>/<ifindex>:<program>,...)". A digest covers the kernel
// IDs of the program's maps, which differ between two runs that recreate
// them, while what runs it does not; a digest no committed chain names is
// left as it is, so an orphan still shows.
func KeptTree(tb testing.TB, bpffs, stateDir string) []string {
	tb.Helper()
	users := map[string][]string{}
	filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "state.json" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var st struct {
			Programs []struct {
				Name  string `json:"name"`
				Alone string `json:"alone"`
			} `json:"programs"`
		}
		if json.Unmarshal(b, &st) != nil {
			return nil
		}
		rel, _ := filepath.Rel(stateDir, filepath.Dir(path))
		for _, p := range st.Programs {
			if p.Alone != "" {
				users[p.Alone] = append(users[p.Alone], rel+":"+p.Name)
			}
		}
		return nil
	})
	tree := Tree(tb, bpffs, stateDir)
	for i, path := range tree {
		parts := strings.Split(path, "/")
		for j, part := range parts {
			if u, ok := users[part]; ok && j > 0 && (parts[j-1] == "programs" || parts[j-1] == "alone") {
				slices.Sort(u)
				parts[j] = "kept(" + strings.Join(u, ",") + ")"
			}
		}
		tree[i] = strings.Join(parts, "/")
	}
	slices.Sort(tree)
	return tree
}
