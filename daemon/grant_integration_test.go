package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// envChild makes the test binary act as a control-socket client: it runs
// the operations (JSON) in the variable against the socket in
// envChildSocket and prints the results as JSON.
const (
	envChild       = "XDPCHAIN_DAEMON_TEST_CHILD"
	envChildSocket = "XDPCHAIN_DAEMON_TEST_SOCKET"
)

type childOp struct {
	Load      bool   `json:"load"` // else unload
	Interface string `json:"interface"`
	NetNS     string `json:"netns"`
	Name      string `json:"name"`
	Priority  int    `json:"priority"`
	Replace   bool   `json:"replace,omitempty"`
	After     string `json:"after,omitempty"` // a placement instead of Priority
	// Object is the test object to load (default noop).
	Object string `json:"object,omitempty"`
	// Observe, when set, starts and ends that observation instead.
	Observe *dispatcher.Probe `json:"observe,omitempty"`
}

type childResult struct {
	Err        string `json:"err,omitempty"`
	Permission bool   `json:"permission,omitempty"`
	Owned      bool   `json:"owned,omitempty"`
	Owner      string `json:"owner,omitempty"`
	Allowed    string `json:"allowed,omitempty"`
	Removed    []string
	// Observed is the probe an observation ran with.
	Observed *dispatcher.Probe `json:"observed,omitempty"`
}

func childMain() int {
	var ops []childOp
	if err := json.Unmarshal([]byte(os.Getenv(envChild)), &ops); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := client.Dial(os.Getenv(envChildSocket))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	var out []childResult
	for _, op := range ops {
		var r childResult
		var err error
		if op.Observe != nil {
			err = observeOnce(c, chain.NewInterface(op.NetNS, op.Interface), *op.Observe, &r)
		} else if op.Load {
			prio := op.Priority
			obj := op.Object
			if obj == "" {
				obj = testprogs.Noop
			}
			var l *chain.Loaded
			req := chain.LoadRequest{
				Interface: chain.NewInterface(op.NetNS, op.Interface), Name: op.Name, Overrides: chain.Overrides{Priority: &prio}, Replace: op.Replace,
				Object: testprogs.Object(obj), ProgramName: testprogs.Program(obj),
			}
			if op.After != "" {
				req.Overrides.Priority, req.Placement = nil, chain.Placement{After: op.After}
			}
			l, err = c.Load(context.Background(), req)
			if err == nil {
				r.Owner, r.Allowed = l.Owner, l.Allowed.String()
			}
		} else {
			var u *chain.Unloaded
			if u, err = c.Unload(context.Background(), chain.Unload{Interface: chain.NewInterface(op.NetNS, op.Interface), Names: []string{op.Name}}); err == nil {
				r.Removed = u.Removed
			}
		}
		if err != nil {
			r.Err = err.Error()
			r.Permission = errors.Is(err, chain.ErrPermission)
			r.Owned = errors.Is(err, chain.ErrOwned)
		}
		out = append(out, r)
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// runAs runs ops through the control socket from a process with the given
// uid and gid (no passwd entry needed) and returns one result per op.
func runAs(t *testing.T, socket string, uid, gid uint32, ops []childOp) []childResult {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(selfBin)
	cmd.Env = append(os.Environ(), envChild+"="+string(b), envChildSocket+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client as uid %d: %v\n%s", uid, err, stderr.String())
	}
	var res []childResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(ops) {
		t.Fatalf("client as uid %d: %q: %v", uid, out, err)
	}
	return res
}

// TestGrant: a user named only by a uid, granted one interface and a
// priority range, loads and unloads its own programs through the socket
// and is refused everywhere else.
func TestGrant(t *testing.T) {
	const uid, gid, stranger = 4242, 4242, 4343
	f := newFixture(t)
	other := f.send.Name + "/" + f.pair.A.Name
	f.writeConfig(fmt.Sprintf("socket_group = \"%d\"", gid), fmt.Sprintf(`
[[interface]]
name = %q
netns = %q

[[program]]
name = "count"
object = "counter.o"
interfaces = ["*"]
priority = 30

[[grant]]
user = "%d"
interfaces = ["%%[1]s"]
priority_min = 100
priority_max = 200
verdicts = ["pass", "drop"]
`, f.pair.A.Name, f.send.Name, uid))
	f.start(daemon.Options{})
	fi, err := os.Stat(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Gid != gid {
		t.Errorf("socket mode %v group %d, want 0660 and %d", fi.Mode().Perm(), st.Gid, gid)
	}

	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prio := 150
	if _, err := c.Load(context.Background(), chain.LoadRequest{Interface: chain.NewInterface(f.recv.Name, f.iface()), Name: "rootprog", Overrides: chain.Overrides{Priority: &prio},
		Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop")}); err != nil {
		t.Fatal(err)
	}

	here := func(load bool, name string, prio int) childOp {
		return childOp{Load: load, Interface: f.iface(), NetNS: f.recv.Name, Name: name, Priority: prio}
	}
	ops := []childOp{
		here(true, "mine", 150),
		{Load: true, Interface: f.pair.A.Name, NetNS: f.send.Name, Name: "elsewhere", Priority: 150},
		here(true, "low", 50),
		{Load: true, Interface: f.iface(), NetNS: f.recv.Name, Name: "rootprog", Priority: 150, Replace: true},
		here(false, "rootprog", 0),
		here(false, "count", 0),
		here(true, "mine2", 200),
		here(false, "mine2", 0),
		// The grant's range applies to the priority a placement chooses.
		{Load: true, Interface: f.iface(), NetNS: f.recv.Name, Name: "placed", After: "count"},
		{Load: true, Interface: f.iface(), NetNS: f.recv.Name, Name: "placed", After: "rootprog"},
		here(false, "placed", 0),
		// A program root's verifier accepts but an unprivileged caller's
		// refuses: it writes a kernel address into the packet.
		{Load: true, Interface: f.iface(), NetNS: f.recv.Name, Name: "leaky", Priority: 150, Object: testprogs.Leak},
	}
	res := runAs(t, f.socket(), uid, gid, ops)
	want := []struct {
		ok         bool
		permission bool
		msg        string
	}{
		{true, false, ""},
		{false, true, `no grant on interface "` + other + `"`},
		{false, true, "priority 50 is outside the granted range [100, 200]"},
		{false, true, "belongs to user:0"},
		{false, true, "belongs to user:0"},
		{false, true, "belongs to config:count"},
		{true, false, ""},
		{true, false, ""},
		{false, true, "priority 30 is outside the granted range [100, 200]"},
		{true, false, ""},
		{true, false, ""},
		{false, false, `program "leaky"`},
	}
	for i, w := range want {
		r := res[i]
		if w.ok != (r.Err == "") || r.Permission != w.permission || !strings.Contains(r.Err, w.msg) {
			t.Errorf("op %d %+v: %+v, want ok %v, permission %v, message with %q", i, ops[i], r, w.ok, w.permission, w.msg)
		}
	}
	if !strings.Contains(res[11].Err, "leaks addr") {
		t.Errorf("the leaking program was refused with %q, want the verifier's pointer-leak reason", res[11].Err)
	}
	if res[0].Owner != "user:4242" || res[0].Allowed != "drop,pass" {
		t.Errorf("the user's program: owner %q allowed %q, want user:4242 and the grant's drop,pass", res[0].Owner, res[0].Allowed)
	}
	if got, want := f.chain(), "count(config:count) mine(user:4242) rootprog(user:0)"; got != want {
		t.Errorf("chain %q, want %q", got, want)
	}
	itf, _ := f.status()
	if a := itf.Programs[1].Allowed; strings.Join(a, ",") != "drop,pass" {
		t.Errorf("mine's allowed verdicts in the dispatcher: %v, want drop,pass", a)
	}

	// A member of the socket's group without a grant may connect but not
	// load.
	res = runAs(t, f.socket(), stranger, gid, []childOp{here(true, "x", 150)})
	if !res[0].Permission || !strings.Contains(res[0].Err, "uid 4343 has no [[grant]]") {
		t.Errorf("load without a grant: %+v", res[0])
	}
	// Traffic still flows through the chain the user changed.
	f.expectTraffic(false)
}
