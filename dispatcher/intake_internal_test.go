package dispatcher

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenNetNSNotANamespace: --netns naming a file that is not a network
// namespace (a regular file, another kind of namespace) is refused with
// an error that says so, not with what setns or netlink fail with later.
func TestOpenNetNSNotANamespace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ns")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{file, "/proc/self/ns/uts"} {
		n, err := openNetNS(spec)
		if err == nil {
			n.Close()
			t.Errorf("openNetNS(%s) succeeded", spec)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), spec+" is not a network namespace") {
			t.Errorf("openNetNS(%s): %v; want ErrInvalid saying it is not a network namespace", spec, err)
		}
	}
	n, err := openNetNS("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("openNetNS of this process's namespace file: %v", err)
	}
	n.Close()
}

// TestRequirePrivileges: without CAP_NET_ADMIN and CAP_BPF/CAP_SYS_ADMIN
// the library says it needs root before touching anything. Capabilities
// are per thread: the test drops them on a thread of its own, which is
// then thrown away.
func TestRequirePrivileges(t *testing.T) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		for _, c := range []uint{unix.CAP_NET_ADMIN, unix.CAP_BPF, unix.CAP_SYS_ADMIN} {
			data[c/32].Effective &^= 1 << (c % 32)
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		errc <- requirePrivileges()
	}()
	err := <-errc
	if !errors.Is(err, ErrPrivilege) || !strings.Contains(err.Error(), "takes root") {
		t.Fatalf("without capabilities: %v; want ErrPrivilege saying it takes root", err)
	}
	if os.Geteuid() == 0 {
		if err := requirePrivileges(); err != nil {
			t.Errorf("as root: %v", err)
		}
	}
}

// TestPriorityRange: one range of priorities everywhere, [MinPriority,
// MaxPriority]; the CLI, the socket and the config all go through it.
func TestPriorityRange(t *testing.T) {
	for _, p := range []int{MinPriority - 1, MaxPriority + 1} {
		err := Chain{{Name: "p", Priority: p}}.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "out of range [0, 1000]") {
			t.Errorf("priority %d: %v; want out of range [0, 1000]", p, err)
		}
	}
	for _, p := range []int{MinPriority, MaxPriority} {
		if err := (Chain{{Name: "p", Priority: p}}).Validate(); err != nil {
			t.Errorf("priority %d: %v", p, err)
		}
	}
}
