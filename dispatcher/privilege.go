package dispatcher

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

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
