package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// benchNS is the network namespace a run creates for its interfaces:
// named (under /run/netns) so that dispatcher.Options.NetNS can find it,
// and removed with every interface in it when the run ends.
type benchNS struct {
	name   string
	handle netns.NsHandle
	nl     *netlink.Handle
	veths  int
}

// netnsDir is where named network namespaces live.
const netnsDir = "/run/netns"

// benchNSName is the name of this process's benchmark namespace.
func benchNSName() string { return fmt.Sprintf("xdpchain-bench-%d", os.Getpid()) }

func newBenchNS() (_ *benchNS, err error) {
	ns := &benchNS{name: benchNSName()}
	// A namespace of that name is a leftover of a killed run of ours
	// (same PID, a previous boot or container): replace it.
	_ = netns.DeleteNamed(ns.name)
	err = onLockedThread(func() error {
		h, err := netns.NewNamed(ns.name)
		if err != nil {
			return err
		}
		ns.handle = h
		return nil
	})
	if err != nil {
		_ = netns.DeleteNamed(ns.name)
		return nil, fmt.Errorf("creating network namespace %s: %w", ns.name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ns.Close())
		}
	}()
	ns.nl, err = netlink.NewHandleAt(ns.handle)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns.name, err)
	}
	lo, err := ns.nl.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("finding lo in %s: %w", ns.name, err)
	}
	if err := ns.nl.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("setting lo up in %s: %w", ns.name, err)
	}
	// Keep the veths quiet (no IPv6 router solicitations reaching the
	// programs). Kernels without IPv6 have nothing to switch off.
	_ = ns.do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0)
	})
	return ns, nil
}

// newVeth creates a veth pair inside the namespace, sets both ends up and
// returns the first end's name and index.
func (ns *benchNS) newVeth() (string, int, error) {
	ns.veths++
	name := fmt.Sprintf("bench%d", ns.veths)
	peer := name + "p"
	if err := ns.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
		return "", 0, fmt.Errorf("adding veth %s/%s in %s: %w", name, peer, ns.name, err)
	}
	var index int
	for _, n := range []string{peer, name} {
		l, err := ns.nl.LinkByName(n)
		if err != nil {
			return "", 0, fmt.Errorf("finding %s in %s: %w", n, ns.name, err)
		}
		if err := ns.nl.LinkSetUp(l); err != nil {
			return "", 0, fmt.Errorf("setting %s up in %s: %w", n, ns.name, err)
		}
		index = l.Attrs().Index
	}
	return name, index, nil
}

// do runs fn on a thread that has entered the namespace (for kernel calls
// that take an ifindex, which the kernel resolves in the caller's
// namespace). The thread is discarded afterwards.
func (ns *benchNS) do(fn func() error) error {
	return onLockedThread(func() error {
		if err := netns.Set(ns.handle); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", ns.name, err)
		}
		return fn()
	})
}

// Close removes the namespace and with it every interface in it.
func (ns *benchNS) Close() error {
	var errs []error
	if ns.nl != nil {
		ns.nl.Close()
		ns.nl = nil
	}
	if ns.handle.IsOpen() {
		errs = append(errs, ns.handle.Close())
	}
	if err := netns.DeleteNamed(ns.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing network namespace %s: %w", ns.name, err))
	}
	return errors.Join(errs...)
}

// onLockedThread runs fn on a goroutine locked to a fresh OS thread that
// is never given back: the goroutine exits locked and the runtime discards
// the thread, so a namespace that fn entered dies with it and no other
// goroutine ever runs there.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}
