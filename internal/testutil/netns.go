package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NetNSDir is where named network namespaces live, as with `ip netns`; the
// xdpchain CLI resolves `--netns NAME` there.
const NetNSDir = "/run/netns"

// NetNS is a named network namespace created for a test.
type NetNS struct {
	// Name is the namespace's name under /run/netns (pass it to --netns).
	Name string
	// Path is /run/netns/Name.
	Path string

	handle netns.NsHandle
}

// Handle returns an open handle on the namespace, valid until the test ends.
func (ns *NetNS) Handle() netns.NsHandle { return ns.handle }

// String returns the namespace's name.
func (ns *NetNS) String() string { return ns.Name }

var netnsSeq atomic.Uint64

// NewNetNS creates a network namespace with a name unique to this process
// and test (xdpchain-PID-N), bind-mounted under /run/netns, with lo up. It is
// removed when the test ends.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	return NewNetNSPrefix(tb, "xdpchain-")
}

// NewNetNSPrefix is NewNetNS with the name prefix-PID-N: tests that run
// beside others' on one machine keep their namespaces apart by prefix.
func NewNetNSPrefix(tb testing.TB, prefix string) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), netnsSeq.Add(1))
	ns, err := createNetNS(name)
	if err != nil {
		tb.Fatalf("creating network namespace %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := ns.remove(); err != nil {
			tb.Errorf("removing network namespace %s: %v", name, err)
		}
	})
	return ns
}

func createNetNS(name string) (*NetNS, error) {
	var handle netns.NsHandle
	err := onLockedThread(func() error {
		var err error
		handle, err = netns.NewNamed(name)
		if err != nil {
			// NewNamed may have switched the thread already; the caller
			// restores it either way.
			return err
		}
		return nil
	})
	if err != nil {
		// Remove whatever NewNamed left behind.
		_ = netns.DeleteNamed(name)
		return nil, err
	}
	ns := &NetNS{Name: name, Path: filepath.Join(NetNSDir, name), handle: handle}
	if err := ns.loUp(); err != nil {
		return nil, errors.Join(err, ns.remove())
	}
	if err := ns.Do(disableDAD); err != nil {
		return nil, errors.Join(err, ns.remove())
	}
	return ns, nil
}

// disableDAD turns off IPv6 duplicate address detection for interfaces
// created later in the current namespace, so that their link-local
// addresses (used by neighbour discovery) are usable at once, like the
// nodad addresses NewVethPair adds.
func disableDAD() error {
	for _, conf := range []string{"all", "default"} {
		path := "/proc/sys/net/ipv6/conf/" + conf + "/accept_dad"
		if err := os.WriteFile(path, []byte("0"), 0); err != nil {
			return fmt.Errorf("disabling DAD: %w", err)
		}
	}
	return nil
}

func (ns *NetNS) loUp() error {
	h, err := netlink.NewHandleAt(ns.handle)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", ns.Name, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

func (ns *NetNS) remove() error {
	var errs []error
	if ns.handle.IsOpen() {
		errs = append(errs, ns.handle.Close())
	}
	if err := netns.DeleteNamed(ns.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Do runs fn with the calling goroutine's work moved into the namespace: fn
// runs on a goroutine of its own, locked to an OS thread that has entered
// the namespace. Sockets and netlink handles that fn opens stay in the
// namespace after it returns; goroutines that fn starts do not run in it.
// The thread returns to its original namespace, or is discarded if it
// cannot. A panic in fn is returned as an error.
func (ns *NetNS) Do(fn func() error) error {
	return onLockedThread(func() error {
		if err := netns.Set(ns.handle); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", ns.Name, err)
		}
		return fn()
	})
}

// InNetNS runs fn inside ns (see NetNS.Do) and fails the test if it returns
// an error. fn must not call tb.Fatal: it runs on another goroutine.
func InNetNS(tb testing.TB, ns *NetNS, fn func() error) {
	tb.Helper()
	if err := ns.Do(fn); err != nil {
		tb.Fatalf("in network namespace %s: %v", ns.Name, err)
	}
}

// onLockedThread runs fn on a new goroutine locked to its OS thread and
// puts the thread back into the network namespace it started in. If that
// fails, or fn panics, the thread stays locked and is discarded when the
// goroutine exits, so no goroutine ever runs on it in a wrong namespace.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("getting the current network namespace: %w", err)
			return
		}
		defer orig.Close()

		restored := false
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic in network namespace: %v\n%s", r, debug.Stack())
			}
			if restored {
				runtime.UnlockOSThread()
			}
			// Otherwise the goroutine exits locked and the runtime
			// terminates the thread.
		}()

		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restoring the network namespace: %w", err))
			return
		}
		restored = true
		errc <- ferr
	}()
	return <-errc
}
