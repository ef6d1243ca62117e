package testutil

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// EnvBin names the environment variable holding the path of a built
// xdpchain binary; the Makefile and the VM harness set it.
const EnvBin = "XDPCHAIN_BIN"

// cliTimeout bounds one xdpchain invocation.
const cliTimeout = 2 * time.Minute

// XDPChainBinary returns the path of an xdpchain binary for tests that run
// the CLI as separate processes: $XDPCHAIN_BIN if set, else one built with
// `go build` into the test's temporary directory (call it once per test
// and reuse the path).
func XDPChainBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv(EnvBin); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("%s: %v", EnvBin, err)
		}
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "xdpchain")
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/xdpchain/xdpchain/cmd/xdpchain")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building xdpchain (set %s to use a built one): %v\n%s", EnvBin, err, out)
	}
	return bin
}

// RunXDPChain runs bin with args and returns what it printed. err is the
// *exec.ExitError of a non-zero exit, or why it could not run.
func RunXDPChain(tb testing.TB, bin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
