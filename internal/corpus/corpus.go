// Package corpus is a corpus of real XDP programs from public projects
// (the Linux kernel's BPF selftests, xdp-tools' libxdp objects), described
// by manifest.toml and obtained at test time from Debian packages, for the
// differential test that runs each alone and inside chains.
//
// No third-party source is kept in the repository: Build downloads the
// packages with apt-get (root, Debian's mirrors), extracts what the
// manifest names into a cache directory kept between runs, and builds
// sources with clang. The objects it builds are also copied into
// testdata/build (ignored by git), where the VM harness, which copies every
// testdata directory into its guests, finds them: the guests have neither
// apt nor clang.
package corpus

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"
)

//go:embed manifest.toml
var manifest []byte

// Entry is one program of the manifest.
type Entry struct {
	// Name is unique in the corpus: the program's name in a chain and the
	// object's file name.
	Name string `toml:"name"`
	// Package is the Debian package the program comes from; Path the
	// source inside the package's kernel tree (Build "selftests"), or the
	// installed object (Build "prebuilt").
	Package string `toml:"package"`
	Path    string `toml:"path"`
	Licence string `toml:"licence"`
	Build   string `toml:"build"`
	// Function is the program to load from the object.
	Function string `toml:"function"`
	// Untyped: the program's section does not name its type (SEC("x")).
	Untyped bool `toml:"untyped"`
	// VM: the program also runs in the Debian VMs (on the freplace
	// mechanism, in the middle of a chain): a subset, as qemu without KVM
	// verifies the large ones for minutes.
	VM bool `toml:"vm"`
	// Frags: a multi-buffer (xdp.frags) program.
	Frags bool `toml:"frags"`
	// Rewrite are textual replacements (old, new) applied to the source
	// before it is built.
	Rewrite   [][2]string `toml:"rewrite"`
	TailCalls *TailCalls  `toml:"tail_calls"`
	// Put are map elements set after the program is loaded (alone), as
	// its own loader would configure it; the chain runs start from the
	// same state.
	Put []Put `toml:"put"`
	// Unstable are byte ranges of the program's output that depend on
	// the time of the run (a SYN cookie changes every minute), left out
	// of the comparison of output bytes; Why says what they hold.
	Unstable []Range  `toml:"unstable"`
	Features []string `toml:"features"`
}

// Put is one map element, key and value in hex as the map holds them.
type Put struct {
	Map   string `toml:"map"`
	Key   string `toml:"key"`
	Value string `toml:"value"`
}

// Range is a byte range [Offset, Offset+Size) of an output frame.
type Range struct {
	Offset int    `toml:"offset"`
	Size   int    `toml:"size"`
	Why    string `toml:"why"`
}

// TailCalls names a PROG_ARRAY of the program and the object's programs
// that fill it, at index 0, 1, ...
type TailCalls struct {
	Map      string   `toml:"map"`
	Programs []string `toml:"programs"`
}

// Manifest returns the corpus's entries in manifest order.
func Manifest() ([]Entry, error) {
	var doc struct {
		Program []Entry `toml:"program"`
	}
	md, err := toml.Decode(string(manifest), &doc)
	if err != nil {
		return nil, fmt.Errorf("manifest.toml: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("manifest.toml: unknown keys %v", u)
	}
	seen := map[string]bool{}
	for i := range doc.Program {
		e := &doc.Program[i]
		if e.Build == "" {
			e.Build = "selftests"
		}
		switch {
		case e.Name == "" || e.Package == "" || e.Path == "" || e.Licence == "" || e.Function == "":
			return nil, fmt.Errorf("manifest.toml: program %d (%q) lacks name, package, path, licence or function", i, e.Name)
		case seen[e.Name]:
			return nil, fmt.Errorf("manifest.toml: program %q twice", e.Name)
		case e.Build != "selftests" && e.Build != "prebuilt":
			return nil, fmt.Errorf("manifest.toml: program %q: unknown build %q", e.Name, e.Build)
		case e.Build == "selftests" && !slices.Contains(kernelSources, e.Package):
			return nil, fmt.Errorf("manifest.toml: program %q: source package %q: only %v are known", e.Name, e.Package, kernelSources)
		}
		for _, p := range e.Put {
			if _, err := hex.DecodeString(p.Key); err != nil || p.Map == "" {
				return nil, fmt.Errorf("manifest.toml: program %q: put %+v: want map and hex key and value", e.Name, p)
			}
			if _, err := hex.DecodeString(p.Value); err != nil {
				return nil, fmt.Errorf("manifest.toml: program %q: put %+v: want map and hex key and value", e.Name, p)
			}
		}
		for _, r := range e.Unstable {
			if r.Offset < 0 || r.Size <= 0 || r.Why == "" {
				return nil, fmt.Errorf("manifest.toml: program %q: unstable %+v: want offset, size > 0 and why", e.Name, r)
			}
		}
		seen[e.Name] = true
	}
	return doc.Program, nil
}

// kernelSources are the Debian packages with a kernel tree the corpus
// builds selftests from; each holds its tree as
// /usr/src/<package>.tar.xz, whose top directory is the package's name.
// 6.12's selftests carry fixes the running kernels' verifiers need (its
// xdp_synproxy's bpf_loop callback converges on verifiers since 6.7; 6.1's
// does not).
var kernelSources = []string{"linux-source-6.1", "linux-source-6.12"}

// selftestsDir is the selftests' directory in the kernel tree.
const selftestsDir = "tools/testing/selftests/bpf"

// Build makes every entry's object available, reusing what cache (a
// directory kept between runs) already holds, and returns the object path
// of each entry by name. The objects are also copied into out.
func Build(cache, out string, entries []Entry) (map[string]string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	objs := map[string]string{}
	sources := map[string][]Entry{} // by package
	for _, e := range entries {
		if e.Build == "prebuilt" {
			if _, err := os.Stat(e.Path); err != nil {
				return nil, fmt.Errorf("%s: %w (install Debian's %s)", e.Name, err, e.Package)
			}
			objs[e.Name] = e.Path
			continue
		}
		if !slices.Contains(kernelSources, e.Package) {
			return nil, fmt.Errorf("%s: source package %q: only %v are known", e.Name, e.Package, kernelSources)
		}
		sources[e.Package] = append(sources[e.Package], e)
	}
	for pkg, sources := range sources {
		tree, err := kernelTreeIn(cache, pkg, sources)
		if err != nil {
			return nil, err
		}
		release, err := kernelRelease()
		if err != nil {
			return nil, err
		}
		vmlinux, err := vmlinuxHeader(filepath.Join(cache, "vmlinux", release))
		if err != nil {
			return nil, err
		}
		// Objects per running kernel (its vmlinux.h) and per entry's
		// build inputs.
		objDir := filepath.Join(cache, "obj", release)
		if err := os.MkdirAll(objDir, 0o755); err != nil {
			return nil, err
		}
		for _, e := range sources {
			obj := filepath.Join(objDir, e.key()+".o")
			if _, err := os.Stat(obj); err != nil {
				if err := buildOne(tree, vmlinux, e, obj); err != nil {
					return nil, err
				}
			}
			objs[e.Name] = obj
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	for name, obj := range objs {
		b, err := os.ReadFile(obj)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(out, name+".o"), b, 0o644); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// Built returns the objects a host run left in out (in the VMs).
func Built(out string, entries []Entry) (map[string]string, error) {
	objs := map[string]string{}
	for _, e := range entries {
		p := filepath.Join(out, e.Name+".o")
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
		objs[e.Name] = p
	}
	return objs, nil
}

// kernelTreeIn returns the kernel tree of the package kernelSource
// extracted in cache with every file the sources need, downloading the
// package and extracting what is missing.
func kernelTreeIn(cache, kernelSource string, sources []Entry) (string, error) {
	kernelTree := kernelSource
	tree := filepath.Join(cache, kernelTree)
	// Each file once: tar extracts a member once and reports a second
	// mention of it as not found (several programs share a source).
	var missing []string
	for _, e := range sources {
		if _, err := os.Stat(filepath.Join(tree, e.Path)); err != nil && !slices.Contains(missing, e.Path) {
			missing = append(missing, e.Path)
		}
	}
	// The headers once: a marker says they were extracted (a run that
	// checked for one header that is not there took a minute and more
	// re-extracting them every time).
	headers := filepath.Join(tree, ".corpus-headers")
	if _, err := os.Stat(headers); err != nil {
		missing = append(missing, selftestsDir+"/*.h", "tools/include/*")
	}
	if len(missing) == 0 {
		return tree, nil
	}
	debs, _ := filepath.Glob(filepath.Join(cache, kernelSource+"_*.deb"))
	if len(debs) == 0 {
		cmd := exec.Command("apt-get", "download", kernelSource)
		cmd.Dir = cache
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get download %s: %v\n%s", kernelSource, err, out)
		}
		debs, _ = filepath.Glob(filepath.Join(cache, kernelSource+"_*.deb"))
		if len(debs) == 0 {
			return "", fmt.Errorf("apt-get download %s left no .deb in %s", kernelSource, cache)
		}
	}
	sort.Strings(debs)
	tarball := filepath.Join(cache, kernelSource+".tar.xz")
	if _, err := os.Stat(tarball); err != nil {
		// The package holds the tree as one tarball.
		script := fmt.Sprintf("dpkg-deb --fsys-tarfile %q | tar -xO ./usr/src/%s.tar.xz > %q.tmp && mv %q.tmp %q", debs[len(debs)-1], kernelSource, tarball, tarball, tarball)
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			return "", fmt.Errorf("unpacking %s: %v\n%s", debs[len(debs)-1], err, out)
		}
	}
	args := []string{"-xJf", tarball, "-C", cache, "--wildcards"}
	for _, m := range missing {
		args = append(args, kernelTree+"/"+m)
	}
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("extracting %v from %s: %v\n%s", missing, tarball, err, out)
	}
	if err := os.WriteFile(headers, nil, 0o644); err != nil {
		return "", err
	}
	return tree, nil
}

// key names an entry's object by what it is built from.
func (e Entry) key() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%q", e.Package, e.Path, e.Rewrite))
	return fmt.Sprintf("%s-%x", e.Name, sum[:6])
}

// kernelRelease is the running kernel's release (uname -r).
func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// vmlinuxHeader writes the running kernel's types as C (bpftool) into dir,
// as the selftests' build does, and returns dir.
func vmlinuxHeader(dir string) (string, error) {
	h := filepath.Join(dir, "vmlinux.h")
	if _, err := os.Stat(h); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out, err := exec.Command("bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c").Output()
	if err != nil {
		return "", fmt.Errorf("bpftool btf dump (install bpftool): %w", err)
	}
	if err := os.WriteFile(h+".tmp", out, 0o644); err != nil {
		return "", err
	}
	return dir, os.Rename(h+".tmp", h)
}

// buildOne builds one selftests source as the selftests' Makefile does
// (clang -O2 -g, the selftests' and the tree's uapi headers, the running
// kernel's vmlinux.h, libbpf's headers from Debian's libbpf-dev), after
// its rewrites.
func buildOne(tree, vmlinux string, e Entry, obj string) error {
	src, err := os.ReadFile(filepath.Join(tree, e.Path))
	if err != nil {
		return err
	}
	text := string(src)
	for _, r := range e.Rewrite {
		if !strings.Contains(text, r[0]) {
			return fmt.Errorf("%s: rewrite %q: not in %s", e.Name, r[0], e.Path)
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	// Beside the original, so its relative includes resolve.
	tmp := filepath.Join(tree, filepath.Dir(e.Path), ".corpus-"+e.Name+".c")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	st := filepath.Join(tree, selftestsDir)
	args := []string{"-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86",
		"-I", vmlinux, "-I", st, "-I", filepath.Join(tree, "tools/include/uapi"), "-I", filepath.Join(tree, "tools/include"),
		"-idirafter", "/usr/include", "-idirafter", "/usr/include/x86_64-linux-gnu",
		"-Wno-compare-distinct-pointer-types", "-c", tmp, "-o", obj + ".tmp"}
	if out, err := exec.Command("clang", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: clang %s: %v\n%s", e.Name, e.Path, err, out)
	}
	return os.Rename(obj+".tmp", obj)
}
