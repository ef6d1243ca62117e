package vmtest

import (
	"os"
	"strings"
	"testing"
)

// Environment variables set by the harness in the guest, and by the
// Makefile on the host.
const (
	// EnvTestEnv names where tests run: "host", or "vm:<kernel release>".
	EnvTestEnv = "XDPCHAIN_TEST_ENV"
	// EnvRequireFreplace, when "1", turns a missing freplace into a test
	// failure instead of a skip.
	EnvRequireFreplace = "XDPCHAIN_REQUIRE_FREPLACE"
	// EnvBin is the path of the xdpchain binary under test.
	EnvBin = "XDPCHAIN_BIN"
)

// Where returns "host", or "vm:<kernel release>" inside a harness VM.
func Where() string {
	if v := os.Getenv(EnvTestEnv); strings.HasPrefix(v, "vm:") {
		return v
	}
	return "host"
}

// InVM reports whether the tests run inside a harness VM.
func InVM() bool { return strings.HasPrefix(Where(), "vm:") }

// FreplaceRequired reports whether a missing freplace must fail a test.
func FreplaceRequired() bool { return os.Getenv(EnvRequireFreplace) == "1" }

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
