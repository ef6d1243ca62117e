package testutil

import (
	"os"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testenv"
)

// RequireRoot skips the test when the process is not root, or fails it
// when XDPCHAIN_TEST_ENV is set, because there a skip would hide that the
// privileged tests did not run.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if env := os.Getenv(testenv.Test); env != "" {
		tb.Fatalf("test needs root (%s=%s)", testenv.Test, env)
	}
	tb.Skip("test needs root")
}
