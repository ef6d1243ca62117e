package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

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
		return fmt.Errorf("%w: %w", errCapabilities, err)
	}
	reduced := saved
	for _, c := range dropForUnprivileged {
		reduced[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &reduced[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%w: %w", errCapabilities, err)
	}
	loadErr := load()
	if err := unix.Capset(&hdr, &saved[0]); err != nil {
		// Leave the thread locked: it must not run other goroutines.
		return errors.Join(loadErr, fmt.Errorf("%w: restoring: %w", errCapabilities, err))
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
// bpffs or the bpf syscall fail with first; and then that bpf() itself is
// allowed (CheckBPF).
func requirePrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return CheckBPF() // let the kernel decide
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(unix.CAP_NET_ADMIN) && (has(unix.CAP_BPF) || has(unix.CAP_SYS_ADMIN)) {
		return CheckBPF()
	}
	return fmt.Errorf("%w: working on XDP roots and their pins takes root (CAP_NET_ADMIN and CAP_BPF or CAP_SYS_ADMIN), and this process (uid %d) lacks them: run it as root, or go through a running daemon", ErrPrivilege, os.Geteuid())
}

// CheckBPF makes the cheapest bpf() call there is (creating a one-entry
// array map, closed at once) and returns an error wrapping ErrBPFRefused
// when the kernel refuses the system call itself: a seccomp filter
// (systemd-nspawn's default one, a container runtime's profile, a unit's
// SystemCallFilter=), an LSM, or missing capabilities. Without this check
// the first bpf() of a real operation would fail with a message about
// whatever it was doing (and cilium/ebpf's hint to raise RLIMIT_MEMLOCK,
// which one page of map never needs).
func CheckBPF() error {
	attr := struct{ mapType, keySize, valueSize, maxEntries uint32 }{unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno == 0 {
		unix.Close(int(fd))
		return nil
	}
	return fmt.Errorf("%w: BPF_MAP_CREATE: %w (%s); under systemd-nspawn add --system-call-filter=bpf, in a systemd unit check SystemCallFilter=, in a container allow bpf in its seccomp profile, and check the LSM's log (audit) for a denial",
		ErrBPFRefused, errno, unix.ErrnoName(errno))
}
