package daemon_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// observeOnce starts an observation through the socket and ends it,
// recording the probe it ran with.
func observeOnce(c *client.Remote, itf chain.Interface, p dispatcher.Probe, r *childResult) error {
	o, err := c.Observe(context.Background(), itf, p)
	if err != nil {
		return err
	}
	probe := o.Probe()
	r.Observed = &probe
	return o.Close()
}

// TestGrantObserve: a granted user observes its own programs through the
// daemon — a capture of one, a profile of all of them — and nothing else:
// not another owner's program, not the chain's input, no trace. Root
// observes anything. Every observation leaves the plain generation running.
func TestGrantObserve(t *testing.T) {
	const uid, gid = 4244, 4244
	f := newFixture(t)
	f.writeConfig(fmt.Sprintf("socket_group = \"%d\"", gid), fmt.Sprintf(`
[[program]]
name = "count"
object = "counter.o"
interfaces = ["*"]
priority = 30

[[grant]]
user = "%d"
interfaces = ["*"]
priority_min = 100
priority_max = 200
`, uid))
	f.start(daemon.Options{})
	itf := chain.NewInterface(f.recv.Name, f.iface())
	res := runAs(t, f.socket(), uid, gid, []childOp{{Load: true, Interface: f.iface(), NetNS: f.recv.Name, Name: "mine", Priority: 150}})
	if res[0].Err != "" {
		t.Fatalf("the user's load: %s", res[0].Err)
	}
	dispatcherID := func() uint32 {
		st, _ := f.status()
		return st.DispatcherID
	}
	plain := testutil.Instructions(t, dispatcherID)

	here := func(p dispatcher.Probe) childOp {
		return childOp{Interface: f.iface(), NetNS: f.recv.Name, Observe: &p}
	}
	ops := []childOp{
		here(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "mine"}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeProfile}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "count"}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeCapture}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeTrace}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeProfile, Programs: []string{"mine", "count"}}),
		here(dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "nosuch"}),
	}
	res = runAs(t, f.socket(), uid, gid, ops)
	want := []struct {
		ok         bool
		permission bool
		msg        string
	}{
		{true, false, ""},
		{true, false, ""},
		{false, true, `"count" is not one of them`},
		{false, true, "only root may capture it"},
		{false, true, "only root may trace"},
		{false, true, `"count" is not one of them`},
		{false, false, `no program "nosuch"`},
	}
	for i, w := range want {
		r := res[i]
		if w.ok != (r.Err == "") || r.Permission != w.permission || !strings.Contains(r.Err, w.msg) {
			t.Errorf("observation %d %+v: %+v, want ok %v, permission %v, message with %q", i, *ops[i].Observe, r, w.ok, w.permission, w.msg)
		}
	}
	if p := res[1].Observed; p == nil || strings.Join(p.Programs, ",") != "mine" {
		t.Errorf("the user's profile ran with %+v, want its own program only", p)
	}

	// Root observes anything, the chain's input and a trace included.
	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []dispatcher.Probe{{Kind: dispatcher.ProbeCapture}, {Kind: dispatcher.ProbeTrace}, {Kind: dispatcher.ProbeCapture, Program: "count"}} {
		var r childResult
		if err := observeOnce(c, itf, p, &r); err != nil {
			t.Errorf("root observing %+v: %v", p, err)
		}
	}
	if got := testutil.Instructions(t, dispatcherID); got != plain {
		t.Error("after the observations the root does not run the plain generation")
	}
	f.expectTraffic(false)
}
