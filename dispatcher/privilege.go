package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Programs of unprivileged owners (Program.Unprivileged) are verified as the
// kernel verifies a caller that has CAP_BPF and CAP_NET_ADMIN but neither
// CAP_PERFMON nor CAP_SYS_ADMIN: no kernel pointer may reach a map or a
// packet, uninitialised stack may not be read, and the verifier's Spectre
// hardening is on. The loader gets there by dropping CAP_PERFMON and
// CAP_SYS_ADMIN from the effective set of its own OS thread for the load
// (capabilities are per thread; the permitted set is kept, so they come
// back afterwards). Linked and inline slots share one kernel program, so a
// generation with one such program is verified that way as a whole.

// errCapabilities wraps a failure to change the loading thread's
// capabilities.
var errCapabilities = errors.New("changing the loading thread's capabilities")

// dropForUnprivileged are the capabilities whose absence makes the
// verifier treat a load as unprivileged (bpf_allow_ptr_leaks,
// bpf_bypass_spec_v1/v4 and the uninitialised-stack rule all test
// CAP_PERFMON; CAP_SYS_ADMIN implies it).
var dropForUnprivileged = []uint{unix.CAP_PERFMON, unix.CAP_SYS_ADMIN}

// asUnprivileged runs load on a thread whose effective capabilities lack
// CAP_PERFMON and CAP_SYS_ADMIN, restoring them afterwards. When restoring
// fails the thread stays locked, so the Go runtime retires it with the
// goroutine instead of reusing it.
func asUnprivileged(load func() error) error {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var saved [2]unix.CapUserData
	if err := unix.Capget(&hdr, &saved[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%w: %v", errCapabilities, err)
	}
	reduced := saved
	for _, c := range dropForUnprivileged {
		reduced[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &reduced[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%w: %v", errCapabilities, err)
	}
	loadErr := load()
	if err := unix.Capset(&hdr, &saved[0]); err != nil {
		// Leave the thread locked: it must not run other goroutines.
		return errors.Join(loadErr, fmt.Errorf("%w: restoring: %v", errCapabilities, err))
	}
	runtime.UnlockOSThread()
	return loadErr
}

// loadAs runs load as unprivileged when unprivileged is set, else as is.
func loadAs(unprivileged bool, load func() error) error {
	if !unprivileged {
		return load()
	}
	return asUnprivileged(load)
}

// unprivileged reports whether a slot of g belongs to an unprivileged
// owner, so that g's one kernel program must be verified as unprivileged.
func (g *generation) unprivileged() bool {
	for _, s := range g.slots {
		if s.Unprivileged {
			return true
		}
	}
	return false
}

// requirePrivileges refuses to work on the kernel and the pins without the
// capabilities that takes (CAP_NET_ADMIN, and CAP_BPF or CAP_SYS_ADMIN), so
// that an unprivileged caller gets that said instead of whatever netlink,
// bpffs or the bpf syscall fail with first.
func requirePrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil // let the kernel decide
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(unix.CAP_NET_ADMIN) && (has(unix.CAP_BPF) || has(unix.CAP_SYS_ADMIN)) {
		return nil
	}
	return fmt.Errorf("%w: working on XDP roots and their pins takes root (CAP_NET_ADMIN and CAP_BPF or CAP_SYS_ADMIN), and this process (uid %d) lacks them: run it as root, or go through a running daemon", ErrPrivilege, os.Geteuid())
}
