package dispatcher

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netNS is a network namespace that work can be done in without moving the
// caller: only a locked OS thread enters it.
type netNS struct {
	spec   string         // as given: "", a name or a path
	handle netns.NsHandle // -1 for the caller's namespace
	inode  uint64
}

// nsGetNSType is the NS_GET_NSTYPE ioctl of namespace files (linux/nsfs.h):
// it returns the namespace's CLONE_NEW* type, and fails on other files.
const nsGetNSType = 0xb703

// netnsDir is where `ip netns` binds named network namespaces.
const netnsDir = "/run/netns"

// CanonicalNetNS returns the one form of a network namespace reference
// (Options.NetNS): a path to a file directly under /run/netns becomes the
// namespace's name, other paths are cleaned, and names and "" (the
// caller's namespace) stay as they are. Two references to one namespace
// by name and by its /run/netns path are then equal.
func CanonicalNetNS(spec string) string {
	if !strings.Contains(spec, "/") {
		return spec
	}
	p := filepath.Clean(spec)
	if dir, name := filepath.Split(p); filepath.Clean(dir) == netnsDir && name != "" {
		return name
	}
	return p
}

// NetNSPath returns the file of the network namespace spec names: a name
// is under /run/netns, a path is itself, and "" is the calling thread's
// namespace (/proc/thread-self/ns/net).
func NetNSPath(spec string) string {
	switch {
	case spec == "":
		return "/proc/thread-self/ns/net"
	case strings.Contains(spec, "/"):
		return spec
	default:
		return filepath.Join(netnsDir, spec)
	}
}

func openNetNS(spec string) (*netNS, error) {
	spec = CanonicalNetNS(spec)
	n := &netNS{spec: spec, handle: -1}
	path := NetNSPath(spec)
	if spec != "" {
		h, err := netns.GetFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("opening network namespace %q: %w", spec, err)
		}
		n.handle = h
		if t, err := unix.IoctlRetInt(int(h), nsGetNSType); err != nil || t != unix.CLONE_NEWNET {
			n.Close()
			return nil, fmt.Errorf("%w: %s is not a network namespace (want a name under %s or a namespace file such as /proc/PID/ns/net)", ErrInvalid, path, netnsDir)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		n.Close()
		return nil, fmt.Errorf("network namespace %q: %w", spec, err)
	}
	n.inode = st.Ino
	return n, nil
}

// Close releases the namespace handle.
func (n *netNS) Close() error {
	if n.handle >= 0 {
		err := n.handle.Close()
		n.handle = -1
		return err
	}
	return nil
}

// netlink returns a netlink handle bound to the namespace.
func (n *netNS) netlink() (*netlink.Handle, error) {
	if n.handle < 0 {
		return netlink.NewHandle()
	}
	return netlink.NewHandleAt(n.handle)
}

// do runs fn on a locked OS thread inside the namespace. The mount
// namespace is untouched, so bpffs pins stay the host's.
func (n *netNS) do(fn func() error) error {
	if n.handle < 0 {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("getting current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.handle); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %q: %w", n.spec, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace: leave it locked so the
		// runtime discards it with this goroutine.
		return fmt.Errorf("returning from network namespace %q: %w", n.spec, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// insideIPNetnsExec reports whether the process seems to run under
// `ip netns exec`: a private mount namespace in which /sys was remounted,
// so a bpffs mounted here would vanish with the process.
func insideIPNetnsExec() bool {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return false
	}
	if init, err := os.Readlink("/proc/1/ns/mnt"); err == nil {
		return init != self
	}
	// /proc/1 is unreadable: compare our network namespace with the named
	// ones, which is what `ip netns exec` enters.
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return false
	}
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		var nst unix.Stat_t
		if unix.Stat(filepath.Join(netnsDir, e.Name()), &nst) == nil && nst.Ino == st.Ino && nst.Dev == st.Dev {
			return true
		}
	}
	return false
}
