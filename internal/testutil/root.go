package testutil

import (
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"

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

// RequireDeviceKfuncs skips, with the kernel's word, where the kernel has
// no XDP metadata kfuncs for device-bound programs (they came in 6.3:
// Debian's 6.1 lacks them).
func RequireDeviceKfuncs(t testing.TB) {
	t.Helper()
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF to look the XDP metadata kfuncs up in: %v", err)
	}
	for _, fn := range []string{"bpf_xdp_metadata_rx_hash", "bpf_xdp_metadata_rx_timestamp"} {
		var f *btf.Func
		if err := spec.TypeByName(fn, &f); err != nil {
			t.Skipf("the kernel's BTF has no kfunc %s (XDP hints need Linux 6.3 or later): %v", fn, err)
		}
	}
}
