package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Running a command with bpf() refused, as systemd-nspawn's default seccomp
// filter (or a container runtime's profile) refuses it: DenyBPF makes a
// command that re-executes the test binary, whose init (below) installs a
// seccomp filter on which bpf() fails with EPERM and then executes the
// real command. Everything else is allowed; the filter is inherited by the
// command's children.

// envDenyBPF carries the command to run under the filter.
const envDenyBPF = "XDPCHAIN_TESTUTIL_DENY_BPF"

// DenyBPF returns a command running name with args with bpf() refused
// (EPERM) by a seccomp filter.
func DenyBPF(name string, args ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), envDenyBPF+"=1")
	return cmd
}

func init() {
	if os.Getenv(envDenyBPF) == "" {
		return
	}
	if err := execDenyingBPF(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "testutil.DenyBPF: %v\n", err)
		os.Exit(126)
	}
}

// auditArch is the AUDIT_ARCH_* of native system calls.
var auditArch = map[string]uint32{"amd64": 0xc000003e, "arm64": 0xc00000b7, "riscv64": 0xc00000f3, "s390x": 0x80000016, "ppc64le": 0xc0000015}

func execDenyingBPF(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("no command")
	}
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("no AUDIT_ARCH for %s", runtime.GOARCH)
	}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	// struct seccomp_data: int nr; __u32 arch; ...
	filter := []unix.SockFilter{
		{Code: ldAbs, K: 4},                        // arch
		{Code: jeq, K: arch, Jt: 0, Jf: 3},         // another ABI: allow
		{Code: ldAbs, K: 0},                        // nr
		{Code: jeq, K: unix.SYS_BPF, Jt: 0, Jf: 1}, // bpf()?
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | 1}, // EPERM
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if len(kv) < len(envDenyBPF)+1 || kv[:len(envDenyBPF)+1] != envDenyBPF+"=" {
			env = append(env, kv)
		}
	}
	return syscall.Exec(path, argv, env)
}
