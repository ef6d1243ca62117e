package main

import (
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// adoptTable: adopt a program attached by netlink, build a chain around
// it, leave it attached by netlink again; refusals change nothing.
var adoptTable = []verbStep{
	{[]string{"adopt", "--netns", "NS", "--name", "bad/name", "IFACE"}, false, `name "bad/name"`},
	{[]string{"status", "--netns", "NS", "IFACE"}, false, "no xdpchain root"},
	{[]string{"adopt", "--netns", "NS", "IFACE"}, true, `adopted program ID "dropport" on IFACE as "dropport" (native mode)`},
	{[]string{"adopt", "--netns", "NS", "IFACE"}, false, "already runs an xdpchain root"},
	{[]string{"load", "--xsk", "--netns", "NS", "--priority", "60", "IFACE"}, true, `loaded "xsk" on IFACE: slot 1 of 2, priority 60`},
	{[]string{"status", "--netns", "NS", "IFACE"}, true, "revision 2"},
	{[]string{"detach", "--netns", "NS", "--leave", "nosuch", "IFACE"}, false, `"nosuch"`},
	{[]string{"detach", "--netns", "NS", "--leave", "dropport", "--expected-revision", "1", "IFACE"}, false, "stale"},
	{[]string{"detach", "--netns", "NS", "--leave", "dropport", "IFACE"}, true, `detached xdpchain from IFACE, leaving "dropport" attached by netlink (program ID)`},
	{[]string{"status", "--netns", "NS", "IFACE"}, false, "no xdpchain root"},
}

// TestAdoptBothPaths runs adoptTable with and without a daemon on a
// program `ip link` attached, and checks that the program left attached
// is the one ip attached.
func TestAdoptBothPaths(t *testing.T) {
	var ids []uint32
	bothPaths(t, "xw-", adoptTable, nil, func(t *testing.T, ns *testutil.NetNS, iface string) {
		obj, err := testprogs.WriteFile(t.TempDir(), testprogs.DropPort)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ip", "-n", ns.Name, "link", "set", "dev", iface, "xdpdrv", "obj", obj, "sec", "xdp").CombinedOutput(); err != nil {
			t.Fatalf("ip link set xdpdrv: %v\n%s", err, out)
		}
		id := netlinkProg(t, ns, iface)
		ids = append(ids, id)
		t.Cleanup(func() {
			if got := netlinkProg(t, ns, iface); got != id {
				t.Errorf("after the table netlink reports program %d, want %d that ip attached", got, id)
			}
			exec.Command("ip", "-n", ns.Name, "link", "set", "dev", iface, "xdpdrv", "off").Run()
		})
	})
	if len(ids) != 2 {
		t.Errorf("setup ran %d times", len(ids))
	}
}

// netlinkProg is the program netlink reports on iface (0: none), and its
// name must be the kernel's name of one.
func netlinkProg(t *testing.T, ns *testutil.NetNS, iface string) uint32 {
	t.Helper()
	c := &cli{recv: ns, pair: &testutil.VethPair{B: testutil.VethEnd{Name: iface}}}
	id := c.xdpProgID(t)
	if id != 0 {
		p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	return id
}
