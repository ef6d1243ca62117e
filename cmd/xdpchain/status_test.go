package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireKeys fails unless m has every key of want.
func requireKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks key %q (has %v)", what, k, keys(m))
		}
	}
}

// TestStatusJSONShape checks `status --json` against its documented shape
// (dispatcher.InterfaceStatus), key by key, with values that match the chain and the traffic sent.
func TestStatusJSONShape(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		c.mustRun(t, "load", "--netns", ns, "--name", "count", c.iface(), c.obj(testprogs.Counter))
		if got := c.udp(t, testprogs.DropPortDefault, 6, false); got != 0 {
			t.Errorf("%d of 6 datagrams to the drop port arrived", got)
		}

		itf := c.status(t)
		requireKeys(t, "interface", itf, "name", "ifindex", "mode", "mechanism", "link_id", "dispatcher_id", "fallthrough", "fallthrough_packets", "programs")
		if itf["name"] != c.iface() || num(t, itf, "ifindex") != float64(c.pair.B.Index) {
			t.Errorf("interface %v/%v, want %s/%d", itf["name"], itf["ifindex"], c.iface(), c.pair.B.Index)
		}
		if itf["mode"] != "native" || itf["mechanism"] != string(mech) || itf["fallthrough"] != "pass" {
			t.Errorf("mode %v mechanism %v fallthrough %v, want native %s pass", itf["mode"], itf["mechanism"], itf["fallthrough"], mech)
		}
		if num(t, itf, "link_id") == 0 || num(t, itf, "dispatcher_id") == 0 {
			t.Errorf("link_id %v dispatcher_id %v, want both set", itf["link_id"], itf["dispatcher_id"])
		}
		if uint32(num(t, itf, "dispatcher_id")) != c.xdpProgID(t) {
			t.Errorf("dispatcher_id %v, netlink reports %d", itf["dispatcher_id"], c.xdpProgID(t))
		}
		num(t, itf, "fallthrough_packets")

		progs := programs(itf)
		if len(progs) != 2 {
			t.Fatalf("%d programs, want 2", len(progs))
		}
		for i, p := range progs {
			requireKeys(t, fmt.Sprintf("program %d", i), p, "slot", "name", "priority", "proceed_on", "stats", "alone_id")
			if id := num(t, p, "alone_id"); id == 0 || !strings.Contains(c.mustRun(t, "status", "--netns", ns, c.iface()), fmt.Sprint(id)) {
				t.Errorf("program %d: alone_id %v, not in the status table", i, p["alone_id"])
			}
			if num(t, p, "slot") != float64(i) {
				t.Errorf("program %d has slot %v", i, p["slot"])
			}
			if _, ok := p["proceed_on"].([]any); !ok {
				t.Errorf("proceed_on is %T, want a list", p["proceed_on"])
			}
			stats, ok := p["stats"].(map[string]any)
			if !ok {
				t.Fatalf("stats is %T", p["stats"])
			}
			requireKeys(t, "stats", stats, "aborted", "drop", "pass", "tx", "redirect", "invalid")
		}
		if progs[0]["name"] != "dropport" || progs[0]["priority"] != 10.0 || fmt.Sprint(progs[0]["proceed_on"]) != "[pass]" {
			t.Errorf("slot 0: %v", progs[0])
		}
		if drop := progs[0]["stats"].(map[string]any)["drop"]; drop != 6.0 {
			t.Errorf("dropport's drop count %v, sent 6 to the drop port", drop)
		}

		// Without IFACE: every root under the bpffs, the same document shape.
		out := c.mustRun(t, "status", "--json")
		var all struct {
			Interfaces []map[string]any `json:"interfaces"`
		}
		if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Interfaces) != 1 || all.Interfaces[0]["name"] != c.iface() {
			t.Errorf("status --json without IFACE: %v\n%s", err, out)
		}

		// The table names the interface, every program and the fall-through.
		table := c.mustRun(t, "status", "--netns", ns, c.iface())
		for _, want := range []string{c.iface(), "dropport", "count", "(fall-through)", "native mode", string(mech), "Run counts live in xdpchain's counters"} {
			if !strings.Contains(table, want) {
				t.Errorf("status table lacks %q:\n%s", want, table)
			}
		}
	})
}

func TestStatusEmpty(t *testing.T) {
	vmtest.LogWhere(t)
	c := newCLI(t, dispatcher.Linked)
	if out := c.mustRun(t, "status", "--json"); strings.Join(strings.Fields(out), "") != `{"interfaces":[]}` {
		t.Errorf("status --json with no roots: %s", out)
	}
	if out := c.mustRun(t, "status"); !strings.Contains(out, "no interface") {
		t.Errorf("status with no roots: %q", out)
	}
	line := c.mustFail(t, "status", "--netns", c.recv.Name, c.iface())
	if !strings.Contains(line, "no xdpchain root") {
		t.Errorf("status of an interface without root: %s", line)
	}
	c.mustFail(t, "status", "--netns", c.recv.Name, c.iface(), "extra-arg")
}

// TestStatusDeviceBound: a chain holding a program that reads XDP hints is
// bound to the device, and status says so, in JSON (the interface's and
// the program's device_bound) and in the table; a chain without one is not.
func TestStatusDeviceBound(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		testutil.RequireDeviceKfuncs(t)
		c := newCLI(t, mech)
		ns := c.recv.Name
		c.mustRun(t, "load", "--netns", ns, "--mechanism", string(mech), c.iface(), c.obj(testprogs.DropPort))
		if itf := c.status(t); itf["device_bound"] != nil {
			t.Errorf("a chain without XDP hints programs: device_bound %v", itf["device_bound"])
		}
		if table := c.mustRun(t, "status", "--netns", ns, c.iface()); strings.Contains(table, "bound to the device") {
			t.Errorf("the table of an unbound chain says bound:\n%s", table)
		}

		c.mustRun(t, "load", "--netns", ns, c.iface(), c.obj(testprogs.DevBound))
		itf := c.status(t)
		if itf["device_bound"] != true {
			t.Errorf("the chain holding devbound: device_bound %v, want true", itf["device_bound"])
		}
		slot := -1
		for i, p := range programs(itf) {
			if want := p["name"] == testprogs.DevBound; (p["device_bound"] == true) != want {
				t.Errorf("program %v: device_bound %v", p["name"], p["device_bound"])
			} else if want {
				slot = i
			}
		}
		table := c.mustRun(t, "status", "--netns", ns, c.iface())
		for _, want := range []string{"native mode, bound to the device, " + string(mech), fmt.Sprintf("slot %d (devbound) reads XDP hints", slot)} {
			if !strings.Contains(table, want) {
				t.Errorf("status table lacks %q:\n%s", want, table)
			}
		}
		// It still filters: devbound drops its port.
		if got := c.udp(t, testprogs.DevBoundPortDrop, 4, false); got != 0 {
			t.Errorf("%d of 4 datagrams to devbound's drop port arrived", got)
		}
	})
}
