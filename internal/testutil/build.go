package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/internal/testenv"
)

// cliPackage is the xdpchain command's main package.
const cliPackage = "github.com/xdpchain/xdpchain/cmd/xdpchain"

// buildTimeout bounds one go build.
const buildTimeout = 5 * time.Minute

// built holds the binaries go build made for this test process, one per
// package, in one directory that RunWithFDCheck removes after the tests.
// Outside RunWithFDCheck (a TestMain that does not use it, or none) each
// test builds into a directory of its own, removed when it ends.
var built struct {
	mu      sync.Mutex
	enabled bool              // RunWithFDCheck runs the tests
	dir     string            // created by the first build
	bins    map[string]string // package → binary
}

// enableBuildCache makes the builds of the tests that run now shared; the
// returned function removes them.
func enableBuildCache() (remove func()) {
	built.mu.Lock()
	built.enabled = true
	built.mu.Unlock()
	return func() {
		built.mu.Lock()
		defer built.mu.Unlock()
		if built.dir != "" {
			os.RemoveAll(built.dir)
		}
		built.enabled, built.dir, built.bins = false, "", nil
	}
}

// XDPChainBinary returns the path of an xdpchain binary for tests that run
// the CLI as separate processes: $XDPCHAIN_BIN if set, else one built with
// go build (once per test process when TestMain uses RunWithFDCheck). It
// skips the test, saying why, when neither is possible (no go tool, as in
// the VMs).
func XDPChainBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv(testenv.Bin); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("%s: %v", testenv.Bin, err)
		}
		return bin
	}
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skipf("needs the xdpchain binary: %s is not set and no go tool is on PATH to build it", testenv.Bin)
	}
	bin, err := buildOnce(tb, cliPackage)
	if err != nil {
		tb.Fatalf("building xdpchain (set %s to use a built one): %v", testenv.Bin, err)
	}
	return bin
}

// PluginBinary returns the binary of the plugin whose main package is pkg
// (an import path, or a directory such as "./cmd/myplugin", as go build
// takes it): <$XDPCHAIN_PLUGIN_DIR>/<pkg's last element> if that variable
// is set, else one built with go build (once per test process when
// TestMain uses RunWithFDCheck), in a directory any user may enter, since
// plugins may run as another user.
func PluginBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	if dir := os.Getenv(testenv.PluginDir); dir != "" {
		bin, err := prebuiltPlugin(dir, pkg)
		if err != nil {
			tb.Fatal(err)
		}
		return bin
	}
	bin, err := buildOnce(tb, pkg)
	if err != nil {
		tb.Fatalf("%v (set %s to use prebuilt binaries)", err, testenv.PluginDir)
	}
	return bin
}

// BuildPlugin is PluginBinary for a TestMain: the prebuilt binary from
// $XDPCHAIN_PLUGIN_DIR, or one built into dir.
func BuildPlugin(pkg, dir string) (string, error) {
	if pdir := os.Getenv(testenv.PluginDir); pdir != "" {
		return prebuiltPlugin(pdir, pkg)
	}
	bin, err := goBuild(pkg, dir)
	if err != nil {
		return "", fmt.Errorf("%w (set %s to use prebuilt binaries)", err, testenv.PluginDir)
	}
	return bin, nil
}

func prebuiltPlugin(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, binaryName(pkg))
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("prebuilt plugin (%s=%s): %w", testenv.PluginDir, dir, err)
	}
	return bin, nil
}

// buildOnce builds pkg into the process's shared directory, once, or into
// a directory of the test's own when builds are not shared.
func buildOnce(tb testing.TB, pkg string) (string, error) {
	key := pkg
	if strings.HasPrefix(pkg, ".") {
		// A directory: relative to the working directory of now.
		abs, err := filepath.Abs(pkg)
		if err != nil {
			return "", err
		}
		key = abs
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if !built.enabled {
		dir, err := worldDir()
		if err != nil {
			return "", err
		}
		tb.Cleanup(func() { os.RemoveAll(dir) })
		return goBuild(pkg, dir)
	}
	if bin, ok := built.bins[key]; ok {
		return bin, nil
	}
	if built.dir == "" {
		dir, err := worldDir()
		if err != nil {
			return "", err
		}
		built.dir, built.bins = dir, map[string]string{}
	}
	// One directory per package: two packages may end in the same name.
	dir, err := os.MkdirTemp(built.dir, "pkg-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin, err := goBuild(pkg, dir)
	if err != nil {
		return "", err
	}
	built.bins[key] = bin
	return bin, nil
}

// worldDir creates a temporary directory any user may enter (not under a
// test's TempDir, whose parent only its owner may enter).
func worldDir() (string, error) {
	dir, err := os.MkdirTemp("", "xdpchain-test-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// goBuild builds the main package pkg into dir, named after pkg's last
// element, and returns the binary's path. Go's build cache makes a second
// build of the same package quick.
func goBuild(pkg, dir string) (string, error) {
	bin := filepath.Join(dir, binaryName(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// binaryName is the name go build gives the binary of pkg.
func binaryName(pkg string) string { return path.Base(filepath.ToSlash(pkg)) }
