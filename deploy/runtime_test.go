// Package deploy_test runs xdpchain's deployment artefacts in real runtimes:
// the .deb under systemd in a Debian 12 container booted with
// systemd-nspawn (nspawn_test.go), and the image with the DaemonSet's pod
// under podman (podman_test.go). `go test -v -run 'Nspawn|Podman'
// ./deploy/...` runs exactly these. On the host they never skip: a runtime
// that cannot start fails the test with the reason. Inside the Debian VMs
// (internal/vmtest) they skip, saying so: the VMs have neither the runtimes
// nor a Debian archive.
package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// cacheDir keeps the Debian rootfs (and podman keeps the base images)
// between runs on the same machine.
const cacheDir = "/var/cache/xdpchain-deploy"

// suite is the Debian release of the container and of the images' bases.
const suite = "bookworm"

// rootfsPackages are debootstrap's --include: systemd as PID 1, ip, the
// CA bundle (the image's build stage downloads Go modules over HTTPS).
var rootfsPackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2", "ca-certificates"}

// requireRuntime skips inside the Debian VMs and, on the host, fails the
// test unless it runs as root with every tool present.
func requireRuntime(t *testing.T, tools ...string) {
	t.Helper()
	vmtest.LogWhere(t)
	if vmtest.InVM() {
		t.Skipf("skipped on %s: the deployment tests need systemd-nspawn, podman and a Debian archive, which the test VMs do not have; they run on the host (.ci/run)", vmtest.Where())
	}
	testutil.RequireRoot(t)
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: %v (.ci/run installs podman, buildah, systemd-container, debootstrap)", tool, err)
		}
	}
}

// run runs a command and returns its combined output; it fails the test
// when the command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// repoRoot is the repository's top directory (tests run in deploy/).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// debianMirror is the Debian archive apt on this machine uses (the first
// URI of a deb source for the Debian suites), so that the rootfs comes from
// where the machine's packages come from.
func debianMirror(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	if _, err := os.Stat("/etc/apt/sources.list"); err == nil {
		files = append([]string{"/etc/apt/sources.list"}, files...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "URIs:"); ok {
				uri = strings.Fields(v + " ")[0]
			}
			if v, ok := strings.CutPrefix(line, "Suites:"); ok && uri != "" && strings.Contains(" "+v+" ", " "+suite+" ") {
				return uri
			}
			if w := strings.Fields(line); len(w) >= 3 && w[0] == "deb" && !strings.HasPrefix(w[1], "[") && w[2] == suite {
				return w[1]
			}
		}
	}
	t.Fatalf("no Debian %s source in /etc/apt/sources.list*: the rootfs comes from the archive apt uses", suite)
	return ""
}

var rootfsOnce sync.Mutex

// debianRootfs returns a minimal Debian rootfs (debootstrap), made once and
// cached in cacheDir; a change of mirror or packages makes a new one.
func debianRootfs(t *testing.T) string {
	t.Helper()
	rootfsOnce.Lock()
	defer rootfsOnce.Unlock()
	mirror := debianMirror(t)
	args := []string{"--variant=minbase", "--include=" + strings.Join(rootfsPackages, ","), suite}
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join(append(args, mirror), " "))))[:12]
	dir := filepath.Join(cacheDir, "rootfs-"+suite+"-"+key)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatalf("no cached rootfs in %s and no debootstrap to make one", dir)
	}
	os.RemoveAll(dir + ".tmp")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap %s from %s into %s (cached for later runs)", suite, mirror, dir)
	out, err := exec.Command("debootstrap", append(args, dir+".tmp", mirror)...).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out, 30))
	}
	// apt inside installs the .deb from a file: no lists needed, no
	// recommends pulled in.
	if err := os.WriteFile(filepath.Join(dir+".tmp", ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".tmp", dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildDeb builds the .deb as `make deb` does and returns its path.
func buildDeb(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("make", "-s", "deb")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "DIST="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("make deb: %v\n%s%s", err, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("make deb printed %q, want the package's path last", out)
	}
	return deb
}
