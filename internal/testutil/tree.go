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
// left as it is, so an orphan still shows. Counters map pins are named by
// their role in the committed state, and a retired generation's map is
// left out (see the loop below).
func KeptTree(tb testing.TB, bpffs, stateDir string) []string {
	tb.Helper()
	users := map[string][]string{}
	// counterPins: per interface directory (relative), the role of each
	// counters map pin its committed state names.
	counterPins := map[string]map[string]string{}
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
			Counters string `json:"counters"`
			Retired  *struct {
				Counters string `json:"counters"`
			} `json:"retired"`
		}
		if json.Unmarshal(b, &st) != nil {
			return nil
		}
		rel, _ := filepath.Rel(stateDir, filepath.Dir(path))
		pinOf := func(name string) string {
			if name == "" {
				return "stats" // the root's first map
			}
			return name
		}
		roles := map[string]string{pinOf(st.Counters): "counters"}
		if st.Retired != nil && pinOf(st.Retired.Counters) != pinOf(st.Counters) {
			roles[pinOf(st.Retired.Counters)] = "retired-counters"
		}
		counterPins[rel] = roles
		for _, p := range st.Programs {
			if p.Alone != "" {
				users[p.Alone] = append(users[p.Alone], rel+":"+p.Name)
			}
		}
		return nil
	})
	tree := Tree(tb, bpffs, stateDir)
	kept := tree[:0]
	for _, path := range tree {
		parts := strings.Split(path, "/")
		// A counters map pin is named by its role in the committed state
		// (its name says in which generation the map grew, which depends
		// on the history); the map a retired generation still counts in,
		// until the next change folds it, is left out (a clean run that
		// never grew has none). A pin no state names keeps its name.
		if n := len(parts); n >= 2 && (parts[n-1] == "stats" || strings.HasPrefix(parts[n-1], "counters-")) {
			if role, ok := counterPinRole(counterPins, parts); ok {
				if role == "retired-counters" {
					continue
				}
				parts[n-1] = "<" + role + ">"
			}
		}
		kept = append(kept, strings.Join(parts, "/"))
	}
	tree = kept
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

// counterPinRole finds the role the committed state of the pin's interface
// gives the counters map pin at parts (a Tree line split at "/"): its
// interface directory is the pin's parent, matched by the state's
// directory relative to the state dir (netns inode/ifindex).
func counterPinRole(pins map[string]map[string]string, parts []string) (string, bool) {
	n := len(parts)
	for rel, roles := range pins {
		if strings.HasSuffix(strings.Join(parts[:n-1], "/"), "/"+rel) {
			role, ok := roles[parts[n-1]]
			return role, ok
		}
	}
	return "", false
}
