package testutil

import (
	"os"
	"testing"
)

// EnvTest names the environment variable that the Makefile and the VM
// harness set (host, vm...) when the privileged test suite is expected to
// run in full.
const EnvTest = "XDPCHAIN_TEST_ENV"

// RequireRoot skips the test when the process is not root, or fails it
// when XDPCHAIN_TEST_ENV is set, because there a skip would hide that the
// privileged tests did not run.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if env := os.Getenv(EnvTest); env != "" {
		tb.Fatalf("test needs root (%s=%s)", EnvTest, env)
	}
	tb.Skip("test needs root")
}
