// Package testenv names the environment variables through which the
// Makefile, the VM harness (internal/vmtest) and CI tell xdpchain's tests
// where they run and what is prebuilt. It is their one home: the harness
// sets them, the test kit (internal/testutil, internal/vmtest's Where,
// plugins/sdk/sdktest) reads them.
package testenv

const (
	// Test names where the privileged tests run: "host" (the Makefile) or
	// "vm:<kernel release>" (the VM harness). When set, a test that needs
	// root fails instead of skipping: there a skip would hide that the
	// privileged tests did not run.
	Test = "XDPCHAIN_TEST_ENV"
	// Bin is the path of a built xdpchain binary, for tests that run the
	// CLI as a process. Unset, the test kit builds one with go build.
	Bin = "XDPCHAIN_BIN"
	// PluginDir is a directory of prebuilt plugin binaries, named after
	// their main package's last element (xdpchain-blocklist, ...), for
	// machines without a Go toolchain (the VMs). Unset, the test kit
	// builds them.
	PluginDir = "XDPCHAIN_PLUGIN_DIR"
	// RequireFreplace, when "1", turns a missing freplace into a test
	// failure instead of a skip (set in every VM).
	RequireFreplace = "XDPCHAIN_REQUIRE_FREPLACE"
)
