package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// testInstance is one xdpchain instance of TestTwoInstancesOneBPFFS: a
// daemon with its own state dir, socket and config, managing one
// interface.
type testInstance struct {
	name          string
	dir, state    string
	socket, cfg   string
	netns, iface  string
	stop          func()
	bpffs, bin    string
	program, objs string
}

// writeConfig writes the instance's config with one program on its
// interface.
func (in *testInstance) writeConfig(t *testing.T, program string) {
	t.Helper()
	src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n\n[[program]]\nname = %q\nobject = %q\ninterfaces = [%q]\n",
		in.bpffs, in.state, in.socket, in.iface, in.netns, program, filepath.Join(in.objs, program+".o"), in.iface)
	if err := os.WriteFile(in.cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	in.program = program
}

// start runs the instance's daemon until stop (SIGTERM, waited for).
func (in *testInstance) start(t *testing.T) {
	t.Helper()
	p := startProcess(t, "daemon "+in.name, in.bin, "run", "--config", in.cfg)
	logs, exited := p.logs, p.exited
	in.stop = func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			p.cmd.Process.Kill()
			<-exited
		}
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(logs.String(), "control socket listening"); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("daemon %s exited:\n%s", in.name, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon %s does not answer:\n%s", in.name, logs.String())
		}
	}
}

// chain is the instance's interface as its own pins say (no daemon).
func (in *testInstance) chain(t *testing.T) *dispatcher.InterfaceStatus {
	t.Helper()
	st, err := dispatcher.StatusOf(in.iface, &dispatcher.Options{NetNS: in.netns, BPFFS: in.bpffs, StateDir: in.state})
	if err != nil {
		t.Fatalf("status of %s's interface: %v", in.name, err)
	}
	return st
}

// cliAs runs the CLI in-process with default paths of its own: the shared
// bpffs, and a state dir and socket of nobody's (a CLI without --config
// that belongs to neither instance).
func cliAs(t *testing.T, bpffs string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := hermeticEnv(t, &out, &errb)
	env.defaultPaths.bpffs = bpffs
	code = run(args, env)
	return code, out.String(), errb.String()
}

// TestTwoInstancesOneBPFFS runs two daemons with their own state dirs,
// sockets and configs on one bpffs, each managing its own interface. The
// views of each (status, top --once, explain; with --socket, with
// --config, and with neither: a CLI whose state dir is nobody's) never
// call the other's root damaged or advise detaching it: they say it is
// foreign and whose. Restarting either daemon with a changed config
// leaves the other's chain as it was, and a third daemon on one's state
// dir is refused.
func TestTwoInstancesOneBPFFS(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	ns := testutil.NewNetNSPrefix(t, "op-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "op-a1", NameB: "op-b1"})
	bpffs := testutil.PrivateBPFFS(t)
	objs := t.TempDir()
	for _, name := range []string{testprogs.Counter, testprogs.Noop} {
		if _, err := testprogs.WriteFile(objs, name); err != nil {
			t.Fatal(err)
		}
	}
	var insts []*testInstance
	for i, iface := range []string{pair.A.Name, pair.B.Name} {
		dir := t.TempDir()
		in := &testInstance{
			name: fmt.Sprintf("#%d", i+1), dir: dir, state: filepath.Join(dir, "state"),
			socket: filepath.Join(dir, "xdpchain.sock"), cfg: filepath.Join(dir, "config.toml"),
			netns: ns.Name, iface: iface, bpffs: bpffs, bin: bin, objs: objs,
		}
		in.writeConfig(t, testprogs.Counter)
		in.start(t)
		insts = append(insts, in)
	}
	t.Cleanup(func() {
		for _, in := range insts {
			in.stop()
			run([]string{"--bpffs", bpffs, "--state-dir", in.state, "--no-daemon", "detach", "--netns", ns.Name, in.iface}, hermeticEnv(t, &bytes.Buffer{}, &bytes.Buffer{}))
		}
	})
	frame := "ffffffffffff020000000001" + "0800" + strings.Repeat("00", 46)

	check := func(t *testing.T, view string, self, other *testInstance) {
		t.Helper()
		var locate []string
		switch view {
		case "--socket":
			locate = []string{"--socket", self.socket}
		case "--config":
			locate = []string{"--config", self.cfg}
		}
		for _, args := range [][]string{
			{"status"},
			{"status", "--netns", ns.Name},
			{"status", "--netns", ns.Name, other.iface},
			{"top", "--once", "--interval", "10ms"},
			{"explain", "--netns", ns.Name, other.iface, "--packet", frame},
		} {
			code, out, errOut := cliAs(t, bpffs, append(locate, args...)...)
			line := strings.Join(append(locate, args...), " ")
			all := out + errOut
			if strings.Contains(strings.ToLower(all), "damaged") || strings.Contains(all, "detach") {
				t.Errorf("xdpchain %s says damaged or detach about %s's root:\n%s", line, other.name, all)
			}
			want := "managed by the instance at " + other.state
			if args[0] == "top" {
				want = "foreign: managed by the instance at" // lines end at 80 columns
			}
			if !strings.Contains(all, want) {
				t.Errorf("xdpchain %s: exit %d; does not say %s's root is %q:\n%s", line, code, other.name, want, all)
			}
			if args[0] == "explain" && code == 0 {
				t.Errorf("xdpchain %s explained another instance's chain:\n%s", line, all)
			}
			if args[0] != "explain" && code != 0 {
				t.Errorf("xdpchain %s: exit %d:\n%s", line, code, all)
			}
			if view != "" && args[0] == "status" && len(args) < 4 && !strings.Contains(out, self.iface+" (ifindex") {
				t.Errorf("xdpchain %s does not show its own interface %s:\n%s", line, self.iface, out)
			}
		}
		if view != "" {
			// Its own chain explains.
			if code, out, errOut := cliAs(t, bpffs, append(locate, "explain", "--netns", ns.Name, self.iface, "--packet", frame)...); code != 0 || !strings.Contains(out, "verdict pass") {
				t.Errorf("explain of %s's own interface: exit %d: %s%s", self.name, code, out, errOut)
			}
		}
	}
	for _, view := range []string{"--socket", "--config", ""} {
		for i, self := range insts {
			other := insts[1-i]
			if view == "" {
				self = &testInstance{name: "nobody's CLI"}
			}
			t.Run(fmt.Sprintf("%s as %s", view, self.name), func(t *testing.T) { check(t, view, self, other) })
		}
	}

	// A daemon on #1's state dir with another socket: refused, changing
	// nothing.
	third := *insts[0]
	third.name, third.socket, third.cfg = "#3", filepath.Join(t.TempDir(), "third.sock"), filepath.Join(t.TempDir(), "third.toml")
	third.writeConfig(t, testprogs.Noop)
	before := insts[0].chain(t)
	if _, errOut, err := testutil.RunXDPChain(t, bin, "run", "--config", third.cfg); err == nil || !strings.Contains(errOut, "another daemon manages the state dir "+third.state) {
		t.Errorf("a daemon on another's state dir: %v:\n%s", err, errOut)
	}
	if after := insts[0].chain(t); after.DispatcherID != before.DispatcherID || after.Generation != before.Generation {
		t.Errorf("the refused daemon changed #1's chain: %+v, was %+v", after, before)
	}

	// Restarting either with a changed config leaves the other's chain.
	for i, self := range insts {
		other := insts[1-i]
		before := other.chain(t)
		self.stop()
		self.writeConfig(t, testprogs.Noop)
		self.start(t)
		if got := self.chain(t); len(got.Programs) != 1 || got.Programs[0].Name != testprogs.Noop {
			t.Errorf("%s after its restart: %+v, want %s", self.name, got.Programs, testprogs.Noop)
		}
		after := other.chain(t)
		if after.DispatcherID != before.DispatcherID || after.Generation != before.Generation || len(after.Programs) != 1 || after.Programs[0].Name != other.program {
			t.Errorf("restarting %s changed %s's chain: dispatcher %d generation %d %+v, was dispatcher %d generation %d",
				self.name, other.name, after.DispatcherID, after.Generation, after.Programs, before.DispatcherID, before.Generation)
		}
	}
}
