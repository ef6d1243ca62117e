// Package vmtest runs the project's privileged Go test suite inside
// Debian's stock kernels under qemu, and gives tests the helpers that tell
// where they run.
//
// The harness (Run, driven by cmd/vmtest and `make vmtest`) downloads
// Debian kernel packages with apt-get, caches them unpacked, builds every
// package's tests as static binaries, packs them with busybox, the
// package testdata, the xdpchain binary and the needed kernel modules into
// an initramfs, boots each kernel with qemu (TCG), and reads the verdict of
// every package from the serial console. qemu's exit status does not carry
// the guest's result: a kernel passes only when the guest printed its final
// success line.
//
// Tests use Where, LogWhere and RequireFreplace:
//
//	func TestSomethingWithFreplace(t *testing.T) {
//		vmtest.LogWhere(t)
//		vmtest.RequireFreplace(t) // skips on the host, fails in a VM without freplace
//		...
//	}
//
// See docs/vmtest.md.
package vmtest
