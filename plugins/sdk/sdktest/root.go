package sdktest

import (
	"testing"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// RequireRoot skips the test when the process is not root: loading BPF
// programs, running them (BPF_PROG_TEST_RUN) and mounting bpffs need
// CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN. When $XDPCHAIN_TEST_ENV is set
// (xdpchain's own test runs, where every privileged test must run) it fails
// the test instead of skipping it.
//
// Load, LoadPlugin, LoadObjects and Start call it; call it first in a test
// that needs root for anything else.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	testutil.RequireRoot(tb)
}
