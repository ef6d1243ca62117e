package daemon_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

func noop(t *testing.T, name, owner string, priority int) dispatcher.Program {
	t.Helper()
	p, err := dispatcher.NewProgram(name, testprogs.Object("noop"), testprogs.Program("noop"))
	if err != nil {
		t.Fatal(err)
	}
	p.Owner, p.Priority = owner, priority
	return p
}

// TestOwnership checks that the daemon keeps its hands off programs other
// owners loaded, through reloads and through the socket.
func TestOwnership(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", guardConfig(10, `"%[3]s"`)+countConfig(30))
	f.start(daemon.Options{})
	ctx := context.Background()

	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prio := 40
	l, err := c.Load(ctx, chain.LoadRequest{Interface: chain.NewInterface(f.recv.Name, f.iface()), Name: "mine", Overrides: chain.Overrides{Priority: &prio},
		Object: testprogs.Object("noop"), ProgramName: testprogs.Program("noop")})
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "user:0" || l.Name != "mine" || l.Priority != 40 {
		t.Errorf("loaded %+v", l)
	}

	// Programs loaded without the daemon, as the CLI does on the pins.
	r, err := dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, noop(t, "cli", "user:root", 50), noop(t, "someone", "user:1234", 60), noop(t, "anon", "", 70))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const others = "mine(user:0) cli(user:root) someone(user:1234) anon()"
	if got, want := f.chain(), "guard(plugin:guard) count(config:count) "+others; got != want {
		t.Fatalf("chain %q, want %q", got, want)
	}

	// The config changes: the daemon's programs follow it, the others stay.
	f.writeConfig("", `
[[program]]
name = "count2"
object = "counter.o"
interfaces = ["%[1]s"]
priority = 80
`)
	if err := f.d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := f.chain(), others+" count2(config:count2)"; got != want {
		t.Errorf("after reload: chain %q, want %q", got, want)
	}

	// A config that wants a name an unknown owner uses is refused (a
	// user's name the config takes back: TestConfigTakesNameBack).
	f.writeConfig("", `
[[program]]
name = "anon"
object = "counter.o"
interfaces = ["%[1]s"]
`)
	if err := f.d.Reload(ctx); !errors.Is(err, chain.ErrOwned) || !strings.Contains(err.Error(), `"anon"`) {
		t.Errorf("reload taking over an unknown owner's name: %v, want ErrOwned naming anon", err)
	}
	if got, want := f.chain(), others+" count2(config:count2)"; got != want {
		t.Errorf("after the refused reload: chain %q, want %q", got, want)
	}

	// Through the socket, root removes its own programs; others' need force;
	// the daemon's follow the config only.
	for _, tc := range []struct {
		name  string
		force bool
		want  error
	}{
		{"count2", false, chain.ErrOwned},
		{"count2", true, chain.ErrOwned},
		{"someone", false, chain.ErrOwned},
		{"nosuch", false, dispatcher.ErrNotFound},
		{"someone", true, nil},
		{"cli", false, nil},
		{"mine", false, nil},
	} {
		var removed []string
		u, err := c.Unload(ctx, chain.Unload{Interface: chain.NewInterface(f.recv.Name, f.iface()), Names: []string{tc.name}, Force: tc.force})
		if err == nil {
			removed = u.Removed
		}
		if tc.want == nil && (err != nil || len(removed) != 1 || removed[0] != tc.name) {
			t.Errorf("unload %s (force %v): %v %v, want it removed", tc.name, tc.force, removed, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("unload %s (force %v): %v, want %v", tc.name, tc.force, err, tc.want)
		}
	}
	if got, want := f.chain(), "anon() count2(config:count2)"; got != want {
		t.Errorf("after unloads: chain %q, want %q", got, want)
	}

	// Status over the socket: owners, versions, processes.
	f.writeConfig("", guardConfig(10, `"%[3]s"`))
	if err := f.d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cst, err := c.Status(ctx, &chain.Interface{NetNS: f.recv.Name, Name: f.iface()})
	if err != nil {
		t.Fatal(err)
	}
	st := cst.Daemon
	if len(st.Interfaces) != 1 || len(st.Interfaces[0].Programs) != 2 {
		t.Fatalf("status: %+v", st)
	}
	itf := &st.Interfaces[0]
	guard := &itf.Programs[0]
	p := st.Process(itf, guard)
	if guard.Owner != "plugin:guard" || guard.Version != "1.0.0" || p == nil || p.State != api.StateRunning || p.PID == 0 {
		t.Errorf("status of guard: %+v, process %+v", guard, p)
	}
	if p := st.Process(itf, &itf.Programs[1]); p != nil {
		t.Errorf("a process for anon: %+v", p)
	}
}

func TestDialNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nobody.sock")
	_, err := client.Dial(path)
	if !errors.Is(err, api.ErrNotRunning) {
		t.Errorf("Dial of a missing socket: %v, want ErrNotRunning", err)
	}
	// A socket file a dead daemon left behind.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := client.Dial(path); !errors.Is(err, api.ErrNotRunning) {
		t.Errorf("Dial of a stale socket: %v, want ErrNotRunning", err)
	}
}

// TestConfigTakesNameBack: a user's program loaded under a name the admin
// later gives a config program never blocks the config: the reload, and a
// daemon started on that config, take the name back; the user's program
// leaves the chain and the log says so. Other users' programs stay.
func TestConfigTakesNameBack(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("", countConfig(30))
	f.start(daemon.Options{})
	squat := func() {
		t.Helper()
		r, err := dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs = append(s.Programs, noop(t, "squat", "user:1234", 60), noop(t, "other", "user:1234", 70))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	squat()
	cfg := `
[[program]]
name = "count"
object = "counter.o"
interfaces = ["%[1]s"]
priority = 30

[[program]]
name = "squat"
object = "counter.o"
interfaces = ["%[1]s"]
priority = 50
`
	f.writeConfig("", cfg)
	if err := f.d.Reload(t.Context()); err != nil {
		t.Fatalf("a reload wanting a name a user holds: %v", err)
	}
	const want = "count(config:count) squat(config:squat) other(user:1234)"
	if got := f.chain(); got != want {
		t.Errorf("after the reload: chain %q, want %q", got, want)
	}
	if !strings.Contains(f.logs.String(), "made way for the config's program") || !strings.Contains(f.logs.String(), "owner=user:1234") {
		t.Errorf("the log does not say the user's program made way:\n%s", f.logs.String())
	}

	// The daemon restarts on that config while a user holds the name
	// again: it starts.
	f.stop()
	r, err := dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(func(s *dispatcher.Spec) error {
		s.Programs = dispatcher.Chain{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	squat()
	f.start(daemon.Options{})
	if got := f.chain(); got != want {
		t.Errorf("after a restart: chain %q, want %q", got, want)
	}
}
