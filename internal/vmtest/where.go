package vmtest

import (
	"os"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testenv"
)

// Where returns "host", or "vm:<kernel release>" inside a harness VM.
func Where() string {
	if v := os.Getenv(testenv.Test); strings.HasPrefix(v, "vm:") {
		return v
	}
	return "host"
}

// InVM reports whether the tests run inside a harness VM.
func InVM() bool { return strings.HasPrefix(Where(), "vm:") }

// FreplaceRequired reports whether a missing freplace must fail a test.
func FreplaceRequired() bool { return os.Getenv(testenv.RequireFreplace) == "1" }

// LogWhere logs where the test runs, so that every result in a log can be
// attributed to a kernel.
func LogWhere(tb testing.TB) {
	tb.Helper()
	tb.Logf("running on %s (kernel %s)", Where(), kernelRelease())
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
