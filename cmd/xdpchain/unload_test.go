package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestUnload removes programs by name and all at once: the root stays
// attached with an empty chain that passes traffic and counts it as
// fall-through.
func TestUnload(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		for _, n := range []string{"a", "b", "c"} {
			c.mustRun(t, "load", "--netns", ns, "--name", n, c.iface(), c.obj(testprogs.Noop))
		}

		c.mustFail(t, "unload", "--netns", ns, c.iface())                         // neither --name nor --all
		c.mustFail(t, "unload", "--netns", ns, "--all", "--name", "a", c.iface()) // both
		if line := c.mustFail(t, "unload", "--netns", ns, "--name", "nosuch", c.iface()); !strings.Contains(line, "nosuch") {
			t.Errorf("unload of a missing program: %s", line)
		}

		out := c.mustRun(t, "unload", c.iface(), "--name", "a", "--netns", ns, "--name", "c")
		if !strings.Contains(out, "unloaded 2 program(s)") {
			t.Errorf("unload says %q", out)
		}
		var names []string
		for _, p := range programs(c.status(t)) {
			names = append(names, p["name"].(string))
		}
		if fmt.Sprint(names) != "[dropport b]" {
			t.Errorf("after unloading a and c: %v", names)
		}
		if got := c.udp(t, testprogs.DropPortDefault, 5, false); got != 0 {
			t.Errorf("%d of 5 datagrams to the drop port arrived", got)
		}

		c.mustRun(t, "unload", "--netns", ns, "--all", c.iface())
		itf := c.status(t)
		if len(programs(itf)) != 0 {
			t.Errorf("after unload --all: %v", programs(itf))
		}
		if id := c.xdpProgID(t); id == 0 || uint32(num(t, itf, "dispatcher_id")) != id {
			t.Errorf("after unload --all netlink reports program %d, status dispatcher %v: the root must stay", id, itf["dispatcher_id"])
		}
		ft := num(t, itf, "fallthrough_packets")
		if got := c.udp(t, testprogs.DropPortDefault, 5, true); got != 5 {
			t.Errorf("through the empty root %d of 5 datagrams arrived", got)
		}
		if got := num(t, c.status(t), "fallthrough_packets") - ft; got < 5 {
			t.Errorf("fall-through counted %v of 5 datagrams", got)
		}
		// Unloading from an empty chain is not an error; the root stays.
		c.mustRun(t, "unload", "--netns", ns, "--all", c.iface())
		if c.xdpProgID(t) == 0 {
			t.Error("root gone after unload --all of an empty chain")
		}
	})
}

// TestDetach removes the root: nothing stays attached, status knows the
// interface no more, and a second detach fails.
func TestDetach(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		c.mustRun(t, "detach", c.iface(), "--netns", ns)
		if id := c.xdpProgID(t); id != 0 {
			t.Errorf("after detach netlink reports program %d", id)
		}
		if out := c.mustRun(t, "status", "--json"); strings.Join(strings.Fields(out), "") != `{"interfaces":[]}` {
			t.Errorf("status after detach: %s", out)
		}
		if got := c.udp(t, testprogs.DropPortDefault, 5, true); got != 5 {
			t.Errorf("after detach %d of 5 datagrams to the former drop port arrived", got)
		}
		if line := c.mustFail(t, "detach", "--netns", ns, c.iface()); !strings.Contains(line, "no xdpchain root") {
			t.Errorf("second detach: %s", line)
		}
		c.mustFail(t, "unload", "--netns", ns, "--all", c.iface())
		c.mustFail(t, "detach", "--netns", ns)
	})
}
