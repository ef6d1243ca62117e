package daemon_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

var (
	// blocklistBin is the blocklist plugin binary.
	blocklistBin string
	// selfBin is a copy of this test binary that any user may run (for the
	// unprivileged client).
	selfBin string
	// binDir holds both, mode 0755.
	binDir string
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childMain())
	}
	if os.Getenv(envCrashDaemon) != "" {
		os.Exit(crashDaemonMain())
	}
	if len(os.Args) > 1 && os.Args[1] == pluginArg {
		servePlugin()
		os.Exit(0)
	}
	code, err := setupAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setupAndRun(m *testing.M) (int, error) {
	var err error
	binDir, err = os.MkdirTemp("", "xdpchain-daemon-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(binDir)
	if err := os.Chmod(binDir, 0o755); err != nil {
		return 0, err
	}
	// Prebuilt ($XDPCHAIN_PLUGIN_DIR) or built into binDir; a prebuilt
	// one is copied there, where any user may run it.
	blocklistBin, err = testutil.BuildPlugin("github.com/xdpchain/xdpchain/plugins/blocklist/cmd/xdpchain-blocklist", binDir)
	if err != nil {
		return 0, fmt.Errorf("the blocklist plugin: %w", err)
	}
	if filepath.Dir(blocklistBin) != binDir {
		inBinDir := filepath.Join(binDir, filepath.Base(blocklistBin))
		if err := copyFile(blocklistBin, inBinDir); err != nil {
			return 0, err
		}
		blocklistBin = inBinDir
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	selfBin = filepath.Join(binDir, "daemon.test")
	if err := copyFile(self, selfBin); err != nil {
		return 0, err
	}
	return testutil.RunWithFDCheck(m), nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
