// Package debian_test builds the .deb (build-deb.sh, as `make deb` does),
// unpacks it and runs what it holds.
package debian_test

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/deploy/systemd"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// debVersion is a Debian version as version.sh makes them: no epoch, no
// revision.
var debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

func TestDeb(t *testing.T) {
	vmtest.LogWhere(t)
	for _, tool := range []string{"dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped on %s: no %s (it builds the package); this test runs on the host, not in the Debian VMs", vmtest.Where(), tool)
		}
	}
	// busybox's dpkg-deb (the VMs') cannot build packages.
	if out, _ := exec.Command("dpkg-deb", "--version").CombinedOutput(); !strings.Contains(string(out), "package archive backend") {
		t.Skipf("skipped on %s: dpkg-deb here is not dpkg's (it cannot build); this test runs on the host", vmtest.Where())
	}
	dist := t.TempDir()
	build := exec.Command("./build-deb.sh")
	build.Env = append(os.Environ(), "DIST="+dist)
	out, err := build.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("build-deb.sh: %v\n%s%s", err, out, stderr)
	}
	deb := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`^xdpchain_(.+)_([a-z0-9]+)\.deb$`).FindStringSubmatch(filepath.Base(deb))
	if filepath.Dir(deb) != dist || m == nil {
		t.Fatalf("build-deb.sh made %q, want %s/xdpchain_<version>_<arch>.deb", deb, dist)
	}
	version := m[1]
	if !debVersion.MatchString(version) {
		t.Errorf("version %q is not a plain Debian version", version)
	}

	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	ctrl := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}

	xdpchain := filepath.Join(root, "usr/bin/xdpchain")
	got, err := exec.Command(xdpchain, "--version").CombinedOutput()
	if want := "xdpchain version " + version + " (commit "; err != nil || !strings.HasPrefix(string(got), want) {
		t.Errorf("packaged xdpchain --version: %q (%v), want %q", got, err, want)
	} else {
		t.Logf("packaged %s: %s", filepath.Base(deb), strings.TrimSpace(string(got)))
	}

	for _, f := range []string{
		"usr/libexec/xdpchain/xdpchain-blocklist",
		"usr/libexec/xdpchain/xdpchain-ratelimit",
		"lib/systemd/system/xdpchain.service",
		"etc/xdpchain/config.toml",
		"usr/share/bash-completion/completions/xdpchain",
		"usr/share/zsh/vendor-completions/_xdpchain",
		"usr/share/fish/vendor_completions.d/xdpchain.fish",
		"usr/share/doc/xdpchain/operations.md",
		"usr/share/xdpchain/examples/counter.o",
		"usr/share/xdpchain/examples/dropport.o",
	} {
		if st, err := os.Stat(filepath.Join(root, f)); err != nil || st.Size() == 0 {
			t.Errorf("/%s: %v (size %v)", f, err, st)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/xdpchain.service")); string(b) != systemd.Unit {
		t.Error("the packaged unit is not deploy/systemd/xdpchain.service")
	}
	if b, err := os.ReadFile(filepath.Join(ctrl, "conffiles")); err != nil || strings.TrimSpace(string(b)) != "/etc/xdpchain/config.toml" {
		t.Errorf("conffiles %q (%v), want /etc/xdpchain/config.toml", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(ctrl, "control")); err != nil || !strings.Contains(string(b), "\nVersion: "+version+"\n") {
		t.Errorf("control file without Version: %s (%v):\n%s", version, err, b)
	}
	// Man pages of every verb, from the commands.
	for _, page := range []string{"xdpchain.1.gz", "xdpchain-run.1.gz", "xdpchain-load.1.gz", "xdpchain-status.1.gz"} {
		text := gunzip(t, filepath.Join(root, "usr/share/man/man1", page))
		if !strings.Contains(text, ".TH \"XDPCHAIN\" \"1\"") {
			t.Errorf("%s is not a man page:\n%.300s", page, text)
		}
	}
	// The shipped config is valid as it is.
	if out, err := exec.Command(xdpchain, "run", "--check", "--config", filepath.Join(root, "etc/xdpchain/config.toml")).CombinedOutput(); err != nil {
		t.Errorf("xdpchain run --check on the packaged config: %v\n%s", err, out)
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}
