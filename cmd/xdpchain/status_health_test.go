package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// TestStatusTextHealth: a plugin whose last health check failed is marked
// unhealthy in the table, and the check's error follows the table.
func TestStatusTextHealth(t *testing.T) {
	itf := dispatcher.InterfaceStatus{Name: "eth0", Programs: []dispatcher.ProgramStatus{
		{Slot: 0, Name: "bl", Owner: "plugin:bl"},
		{Slot: 1, Name: "rl", Owner: "plugin:rl"},
	}}
	st := &api.Status{Plugins: []api.PluginStatus{
		{Name: "bl", Interface: "eth0", State: api.StateRunning, PID: 42, Health: "plugin bl: plugin unhealthy: upstream feed is stale"},
		{Name: "rl", Interface: "eth0", State: api.StateRunning, PID: 43},
	}}
	var out bytes.Buffer
	printStatus(&out, statusDoc{Interfaces: []dispatcher.InterfaceStatus{itf}, Plugins: st.Plugins, daemon: st})
	lines := strings.Split(out.String(), "\n")
	var bl, rl, note string
	for _, l := range lines {
		switch f := strings.Fields(l); {
		case len(f) > 1 && f[0] == "0" && f[1] == "bl":
			bl = l
		case len(f) > 1 && f[0] == "1" && f[1] == "rl":
			rl = l
		case strings.HasPrefix(strings.TrimSpace(l), "slot 0 (bl) health check:"):
			note = l
		}
	}
	if !strings.Contains(bl, "running (pid 42), unhealthy") {
		t.Errorf("bl's row %q does not say unhealthy:\n%s", bl, out.String())
	}
	if !strings.Contains(rl, "running (pid 43)") || strings.Contains(rl, "unhealthy") {
		t.Errorf("rl's row %q:\n%s", rl, out.String())
	}
	if !strings.HasSuffix(note, "health check: plugin unhealthy: upstream feed is stale") {
		t.Errorf("no note with the health error:\n%s", out.String())
	}
	if strings.Count(out.String(), "health check:") != 1 {
		t.Errorf("one note expected:\n%s", out.String())
	}
}
