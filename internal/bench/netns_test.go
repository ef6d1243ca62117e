package bench

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestBenchNS(t *testing.T) {
	testutil.RequireRoot(t)
	ns, err := newBenchNS()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(netnsDir, ns.name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("namespace %s: %v", path, err)
	}
	name, index, err := ns.newVeth()
	if err != nil {
		t.Fatal(err)
	}
	// The veth exists inside the namespace, not in ours.
	if _, err := netlink.LinkByName(name); err == nil {
		t.Errorf("%s is visible in the caller's namespace", name)
	}
	err = ns.do(func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().Index != index || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s inside: index %d (want %d), flags %v (want up)", name, l.Attrs().Index, index, l.Attrs().Flags)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s left behind: %v", path, err)
	}
}
