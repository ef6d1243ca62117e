package dispatcher

import (
	"errors"
	"io/fs"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

// threadNetNS is the inode of the calling thread's network namespace.
func threadNetNS(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestOpenNetNSCaller(t *testing.T) {
	n, err := openNetNS("")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	if n.inode != st.Ino || n.inode == 0 {
		t.Errorf("inode %d, want the process's %d", n.inode, st.Ino)
	}
	if n.handle != -1 {
		t.Errorf("handle %d for the caller's namespace, want none", n.handle)
	}
	ran := false
	if err := n.do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("do in the caller's namespace: ran %v, %v", ran, err)
	}
	if err := n.Close(); err != nil {
		t.Error(err)
	}
}

func TestOpenNetNSNamed(t *testing.T) {
	vmtest.LogWhere(t)
	ns := testutil.NewNetNS(t)
	byName, err := openNetNS(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	byPath, err := openNetNS(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer byPath.Close()
	if byName.inode != byPath.inode {
		t.Errorf("by name inode %d, by path %d", byName.inode, byPath.inode)
	}
	if byName.inode == threadNetNS(t) {
		t.Error("the test namespace has the caller's inode")
	}

	// do runs on a thread inside the namespace and hands the thread back.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNetNS(t)
	var inside uint64
	sentinel := errors.New("from fn")
	err = byName.do(func() error {
		inside = threadNetNS(t)
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("do returned %v, want fn's error", err)
	}
	if inside != byName.inode {
		t.Errorf("fn ran in namespace %d, want %d", inside, byName.inode)
	}
	if after := threadNetNS(t); after != before {
		t.Errorf("the caller's thread is left in namespace %d, was in %d", after, before)
	}

	// netlink sees the namespace's interfaces: only its lo.
	h, err := byPath.netlink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := nlretry.Dump(h.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" {
		var names []string
		for _, l := range links {
			names = append(names, l.Attrs().Name)
		}
		t.Errorf("interfaces in the new namespace: %v, want [lo]", names)
	}
	if err := byName.Close(); err != nil || byName.handle != -1 {
		t.Errorf("Close: %v, handle %d", err, byName.handle)
	}
	if err := byName.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenNetNSMissing(t *testing.T) {
	for _, spec := range []string{"xdpchain-no-such-netns", "/nonexistent/ns/net"} {
		n, err := openNetNS(spec)
		if err == nil {
			n.Close()
			t.Errorf("opening %q succeeded", spec)
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), spec) {
			t.Errorf("opening %q: %v, want a not-exist error naming it", spec, err)
		}
	}
}
