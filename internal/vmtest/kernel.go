package vmtest

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ErrNoKernel is returned when no package matches a kernel name, neither in
// apt's lists nor in the cache.
var ErrNoKernel = errors.New("no kernel package found")

// KernelLines maps the short kernel names accepted by -kernels to the
// Debian package names of that line. The number captured by the pattern
// orders the packages: the highest is the newest. Add a line here to test
// another kernel (see docs/vmtest.md).
var KernelLines = map[string]*regexp.Regexp{
	"6.1":  regexp.MustCompile(`^linux-image-6\.1\.0-([0-9]+)-amd64$`),
	"6.12": regexp.MustCompile(`^linux-image-6\.12\.([0-9]+)\+deb12-amd64$`),
}

// DefaultKernels are the kernel lines a plain run boots.
var DefaultKernels = []string{"6.1", "6.12"}

// Kernel is one unpacked Debian kernel package.
type Kernel struct {
	Name    string // as asked for: a line such as "6.1", or a package name
	Package string // e.g. linux-image-6.1.0-56-amd64
	Dir     string // the unpacked package (dpkg -x)
	Release string // uname -r, the directory under lib/modules
	Vmlinuz string
}

// Module is a kernel module ready for insmod: decompressed, with its
// dependencies listed before it by Kernel.Modules.
type Module struct {
	Name string
	Data []byte
}

// pickPackage returns the newest of names matching the line's pattern.
// exists, when not nil, filters out names that are not real packages.
func pickPackage(line *regexp.Regexp, names []string, exists func(string) bool) (string, bool) {
	type cand struct {
		name string
		n    int
	}
	var cands []cand
	for _, name := range names {
		m := line.FindStringSubmatch(strings.TrimSpace(name))
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		cands = append(cands, cand{m[0], n})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].n > cands[j].n })
	for _, c := range cands {
		if exists == nil || exists(c.name) {
			return c.name, true
		}
	}
	return "", false
}

// kernelStore resolves kernel names to packages and keeps them unpacked
// under dir.
type kernelStore struct {
	dir     string // <cache>/kernels
	offline bool   // never call apt-get download or update
	log     func(format string, args ...any)
	updated bool
}

func (ks *kernelStore) resolve(name string) (string, error) {
	if strings.HasPrefix(name, "linux-image-") {
		return name, nil
	}
	line, ok := KernelLines[name]
	if !ok {
		return "", fmt.Errorf("unknown kernel line %q (known: %s, or a linux-image-* package name)", name, strings.Join(knownLines(), ", "))
	}
	for attempt := 0; attempt < 2; attempt++ {
		if pkg, ok := pickPackage(line, aptPackageNames(), aptHasPackage); ok {
			return pkg, nil
		}
		if pkg, ok := pickPackage(line, ks.cachedPackages(), nil); ok {
			ks.log("apt knows no package of line %s; using cached %s", name, pkg)
			return pkg, nil
		}
		if ks.offline || ks.updated || os.Geteuid() != 0 {
			break
		}
		ks.log("no package of line %s known to apt; running apt-get update", name)
		ks.updated = true
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", err, out)
		}
	}
	return "", fmt.Errorf("kernel line %s: %w (try apt-get update)", name, ErrNoKernel)
}

func knownLines() []string {
	var names []string
	for n := range KernelLines {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func aptPackageNames() []string {
	out, err := exec.Command("apt-cache", "pkgnames", "linux-image-").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// aptHasPackage reports whether name is a real package with a candidate
// version, not only a name other packages provide.
func aptHasPackage(name string) bool {
	out, err := exec.Command("apt-cache", "show", "--no-all-versions", name).Output()
	return err == nil && bytes.Contains(out, []byte("Filename:"))
}

func (ks *kernelStore) cachedPackages() []string {
	entries, err := os.ReadDir(ks.dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(ks.dir, e.Name(), ".complete")); err == nil {
			names = append(names, e.Name())
		}
	}
	return names
}

// get returns the unpacked kernel, downloading and unpacking it first when
// it is not in the cache.
func (ks *kernelStore) get(name string) (*Kernel, error) {
	pkg, err := ks.resolve(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(ks.dir, pkg)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		if ks.offline {
			return nil, fmt.Errorf("kernel %s is not cached in %s and downloads are off", pkg, ks.dir)
		}
		if err := ks.download(pkg, dir); err != nil {
			return nil, err
		}
	} else {
		ks.log("kernel %s: cached in %s", pkg, dir)
	}
	return openKernel(name, pkg, dir)
}

func (ks *kernelStore) download(pkg, dir string) error {
	tmp, err := os.MkdirTemp(ks.dir, ".download-")
	if err != nil {
		return fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	ks.log("kernel %s: apt-get download", pkg)
	cmd := exec.Command("apt-get", "-o", "APT::Sandbox::User=root", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %d", pkg, len(debs))
	}
	unpacked := filepath.Join(tmp, "root")
	ks.log("kernel %s: dpkg -x %s", pkg, filepath.Base(debs[0]))
	if out, err := exec.Command("dpkg", "-x", debs[0], unpacked).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg -x %s: %w\n%s", debs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(unpacked, ".complete"), []byte(filepath.Base(debs[0])+"\n"), 0o644); err != nil {
		return err
	}
	os.RemoveAll(dir) // a partial earlier attempt
	if err := os.Rename(unpacked, dir); err != nil {
		return fmt.Errorf("moving kernel into the cache: %w", err)
	}
	return nil
}

func openKernel(name, pkg, dir string) (*Kernel, error) {
	mods, err := os.ReadDir(filepath.Join(dir, "lib", "modules"))
	if err != nil {
		return nil, fmt.Errorf("kernel %s: reading modules directory: %w", pkg, err)
	}
	if len(mods) != 1 {
		return nil, fmt.Errorf("kernel %s: expected one release under lib/modules, found %d", pkg, len(mods))
	}
	rel := mods[0].Name()
	k := &Kernel{Name: name, Package: pkg, Dir: dir, Release: rel, Vmlinuz: filepath.Join(dir, "boot", "vmlinuz-"+rel)}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("kernel %s: %w", pkg, err)
	}
	return k, nil
}

// moduleName normalizes a module file or module name: dashes and
// underscores are the same to the kernel.
func moduleName(file string) string {
	base := filepath.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// Modules returns the named modules and everything they depend on,
// decompressed, dependencies first. Modules listed in modules.builtin are
// built into the kernel and left out.
func (k *Kernel) Modules(names []string) ([]Module, error) {
	root := filepath.Join(k.Dir, "lib", "modules", k.Release, "kernel")
	index := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			index[moduleName(d.Name())] = path
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing modules of %s: %w", k.Package, err)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(k.Dir, "lib", "modules", k.Release, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			builtin[moduleName(line)] = true
		}
	}
	var out []Module
	seen := map[string]bool{}
	var add func(name string, chain []string) error
	add = func(name string, chain []string) error {
		name = moduleName(name)
		if seen[name] {
			return nil
		}
		if slices.Contains(chain, name) {
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		path, ok := index[name]
		if !ok && builtin[name] {
			seen[name] = true // built into this kernel: nothing to load
			return nil
		}
		if !ok {
			return fmt.Errorf("module %s not found in %s (built in?)", name, k.Package)
		}
		data, err := readModule(path)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		for _, d := range deps {
			if err := add(d, append(chain, name)); err != nil {
				return err
			}
		}
		seen[name] = true
		out = append(out, Module{Name: name, Data: data})
		return nil
	}
	for _, n := range names {
		if err := add(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readModule returns a module file's contents, decompressed on the host:
// busybox insmod in the guest cannot be relied on to decompress.
func readModule(path string) ([]byte, error) {
	var tool string
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".ko.xz"):
		tool = "xz"
	case strings.HasSuffix(path, ".ko.zst"):
		tool = "zstd"
	case strings.HasSuffix(path, ".ko.gz"):
		tool = "gzip"
	default:
		return nil, fmt.Errorf("module %s: unknown compression", path)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tool, "-dc", path)
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decompressing %s with %s: %w: %s", path, tool, err, stderr.String())
	}
	return data, nil
}

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(data []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d = strings.TrimSpace(d); d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}
