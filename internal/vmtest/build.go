package vmtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// TestPackage is one Go package with tests, built for the guest.
type TestPackage struct {
	ImportPath string
	Dir        string // on the host
	Rel        string // relative to the module root; "." for the root
	Binary     string // built test binary on the host; "" when the build failed
	BuildLog   string // compiler output of a failed build
}

// GuestName is the test binary's file name in the guest.
func (p *TestPackage) GuestName() string {
	if p.Rel == "." {
		return "root.test"
	}
	return strings.ReplaceAll(p.Rel, "/", "_") + ".test"
}

// module describes the Go module the harness tests.
type module struct {
	Path string
	Dir  string
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func findModule(dir string) (*module, error) {
	cmd := exec.Command(goCmd(), "list", "-m", "-f", "{{.Path}}\t{{.Dir}}")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("finding the Go module: %w", commandError(err))
	}
	path, mdir, ok := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if !ok {
		return nil, fmt.Errorf("finding the Go module: unexpected output %q", out)
	}
	return &module{Path: path, Dir: mdir}, nil
}

// listTestPackages returns the packages matching patterns that have test
// files. Packages that do not load are listed too, so that their build
// fails visibly instead of being dropped.
func listTestPackages(m *module, patterns []string) ([]*TestPackage, error) {
	args := append([]string{"list", "-e", "-f",
		"{{if or .TestGoFiles .XTestGoFiles .Error}}{{.ImportPath}}\t{{.Dir}}{{end}}"}, patterns...)
	cmd := exec.Command(goCmd(), args...)
	cmd.Dir = m.Dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing packages: %w", commandError(err))
	}
	var pkgs []*TestPackage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ip, dir, ok := strings.Cut(line, "\t")
		if !ok || dir == "" {
			continue
		}
		rel, err := filepath.Rel(m.Dir, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // outside the module
		}
		pkgs = append(pkgs, &TestPackage{ImportPath: ip, Dir: dir, Rel: filepath.ToSlash(rel)})
	}
	return pkgs, nil
}

// buildTests builds each package's tests as a static binary in outDir. A
// package that fails to build keeps Binary empty and its compiler output
// in BuildLog; the others are still built.
func buildTests(m *module, pkgs []*TestPackage, outDir string, log func(string, ...any)) {
	for _, p := range pkgs {
		out := filepath.Join(outDir, p.GuestName())
		os.Remove(out)
		cmd := exec.Command(goCmd(), "test", "-c", "-o", out, "-ldflags=-s -w", p.ImportPath)
		cmd.Dir = m.Dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		res, err := cmd.CombinedOutput()
		if err != nil {
			p.BuildLog = strings.TrimSpace(string(res))
			if p.BuildLog == "" {
				p.BuildLog = err.Error()
			}
			log("build FAILED: %s\n%s", p.ImportPath, indent(p.BuildLog, "    "))
			continue
		}
		if _, err := os.Stat(out); err != nil {
			p.BuildLog = "go test -c wrote no binary (no tests?)"
			log("build FAILED: %s: %s", p.ImportPath, p.BuildLog)
			continue
		}
		p.Binary = out
		log("built %s", p.ImportPath)
	}
}

// command is one main package of the module, built statically for the
// guest: cmd/xdpchain and the plugins' binaries.
type command struct {
	ImportPath string
	Name       string // binary name: the last element of the import path
	Binary     string // on the host; "" when the build failed
	Err        error
}

// listCommands returns the module's main packages, except the harness.
func listCommands(m *module) ([]*command, error) {
	cmd := exec.Command(goCmd(), "list", "-e", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...")
	cmd.Dir = m.Dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing commands: %w", commandError(err))
	}
	var cmds []*command
	for _, ip := range strings.Fields(string(out)) {
		if strings.HasPrefix(ip, m.Path+"/internal/vmtest/") {
			continue
		}
		cmds = append(cmds, &command{ImportPath: ip, Name: ip[strings.LastIndex(ip, "/")+1:]})
	}
	return cmds, nil
}

// buildCommands builds every command statically into outDir/cmd. A
// command that does not build keeps its error; the run goes on without it.
func buildCommands(m *module, cmds []*command, outDir string, log func(string, ...any)) {
	dir := filepath.Join(outDir, "cmd")
	os.MkdirAll(dir, 0o755)
	for _, c := range cmds {
		out := filepath.Join(dir, c.Name)
		cmd := exec.Command(goCmd(), "build", "-o", out, "-ldflags=-s -w", c.ImportPath)
		cmd.Dir = m.Dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if res, err := cmd.CombinedOutput(); err != nil {
			c.Err = fmt.Errorf("building %s: %w\n%s", c.ImportPath, err, indent(strings.TrimSpace(string(res)), "    "))
			log("command build FAILED, proceeding without it: %v", c.Err)
			continue
		}
		c.Binary = out
		log("built command %s", c.Name)
	}
}

// testdataDirs returns every directory named testdata in the module, and
// the module's docs directory,
// relative to its root, so that tests find both their own testdata and a
// shared one such as ../testdata.
func testdataDirs(m *module) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(m.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != m.Dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
			name == "vendor" || name == "vmtest-out" || name == "bin") {
			return filepath.SkipDir
		}
		// docs/ too: tests check that the documentation says what the code
		// does (../docs/config.md).
		if name == "testdata" || (name == "docs" && filepath.Dir(path) == m.Dir) {
			rel, _ := filepath.Rel(m.Dir, path)
			dirs = append(dirs, filepath.ToSlash(rel))
			return filepath.SkipDir
		}
		return nil
	})
	return dirs, err
}

// maxRootFile bounds the size of the module root's files copied to the
// guest.
const maxRootFile = 1 << 20

// rootFiles returns the regular files at the module root, such as
// config.toml, that tests may read as ../config.toml: Go sources and files
// over maxRootFile are left out.
func rootFiles(m *module) ([]string, error) {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".go") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil && info.Size() <= maxRootFile {
			files = append(files, e.Name())
		}
	}
	return files, nil
}

// hostTool is a host binary copied into the guest with its shared
// libraries, for tests that run iproute2's ip or bpftool.
type hostTool struct {
	Name string
	Path string   // on the host
	Libs []string // absolute paths, the dynamic loader included
}

// findHostTools locates the named tools and their libraries with ldd.
// Tools that are not installed are skipped and reported in missing.
func findHostTools(names []string) (tools []hostTool, missing []string) {
	for _, n := range names {
		path, err := exec.LookPath(n)
		if err != nil {
			missing = append(missing, n)
			continue
		}
		libs, err := sharedLibs(path)
		if err != nil {
			missing = append(missing, n+" ("+err.Error()+")")
			continue
		}
		tools = append(tools, hostTool{Name: n, Path: path, Libs: libs})
	}
	return tools, missing
}

func sharedLibs(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		// "not a dynamic executable": a static binary needs nothing.
		return nil, nil
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("%s: library %s not found", path, f[0])
		}
	}
	return libs, nil
}

func commandError(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
