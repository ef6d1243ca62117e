package testutil

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/xdpchain/xdpchain/internal/nlretry"
)

// currentNetNS returns the identity of the calling thread's namespace.
func currentNetNS(t *testing.T) string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return h.UniqueId()
}

func TestNewNetNS(t *testing.T) {
	host := currentNetNS(t)
	var path string
	t.Run("create", func(t *testing.T) {
		ns := NewNetNS(t)
		path = ns.Path
		if !strings.HasPrefix(ns.Path, "/run/netns/") || ns.Path != "/run/netns/"+ns.Name {
			t.Fatalf("path %q for name %q", ns.Path, ns.Name)
		}
		if _, err := os.Stat(ns.Path); err != nil {
			t.Fatal(err)
		}
		// The name resolves to the namespace the handle holds.
		byName, err := netns.GetFromName(ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer byName.Close()
		if !byName.Equal(ns.Handle()) {
			t.Fatal("the name and the handle are different namespaces")
		}
		if ns.Handle().UniqueId() == host {
			t.Fatal("the test namespace is the host's")
		}

		h, err := netlink.NewHandleAt(ns.Handle())
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		links, err := nlretry.Dump(h.LinkList)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0].Attrs().Name != "lo" {
			t.Fatalf("links in a new namespace: %v", links)
		}
		if links[0].Attrs().Flags&(1<<0) == 0 { // net.FlagUp
			t.Fatal("lo is not up")
		}

		other := NewNetNS(t)
		if other.Name == ns.Name || other.Handle().Equal(ns.Handle()) {
			t.Fatal("two namespaces share a name or an identity")
		}
	})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after the test: %v", path, err)
	}
	if currentNetNS(t) != host {
		t.Fatal("the test's thread changed namespace")
	}
}

func TestDo(t *testing.T) {
	ns := NewNetNS(t)
	host := currentNetNS(t)

	var inside string
	InNetNS(t, ns, func() error {
		h, err := netns.Get()
		if err != nil {
			return err
		}
		defer h.Close()
		inside = h.UniqueId()
		return nil
	})
	if inside != ns.Handle().UniqueId() {
		t.Fatalf("fn ran in %s, want %s", inside, ns.Handle().UniqueId())
	}

	want := errors.New("from fn")
	if err := ns.Do(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("Do returned %v, want %v", err, want)
	}
	if err := ns.Do(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Do after a panic returned %v", err)
	}

	// Many concurrent calls never leave a thread that goroutines share in
	// the test namespace.
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = ns.Do(func() error { return nil })
		}()
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			h, err := netns.Get()
			if err != nil {
				errs <- err.Error()
				return
			}
			defer h.Close()
			if h.UniqueId() != host {
				errs <- "a goroutine ran in the test namespace"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if currentNetNS(t) != host {
		t.Fatal("the test's thread changed namespace")
	}
}
