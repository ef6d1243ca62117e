package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestStatusPluginPIDOtherNamespace runs the daemon in a PID namespace of
// its own (as in a container): the daemon reports its plugin's PID in that
// namespace, and `status` shows the PID this process can use (the
// plugin's /proc entry here).
func TestStatusPluginPIDOtherNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1) (util-linux) to start the daemon in a PID namespace")
	}
	bin, plugin := testutil.XDPChainBinary(t), blocklistPlugin(t)
	ns := testutil.NewNetNSPrefix(t, "op-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "op-a2", NameB: "op-b2"})
	bpffs, dir := testutil.PrivateBPFFS(t), t.TempDir()
	state, socket, cfg := filepath.Join(dir, "state"), filepath.Join(dir, "xdpchain.sock"), filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n\n[[plugin]]\nname = \"bl\"\ncommand = %q\ninterfaces = [%q]\n[plugin.settings]\nprefixes = [\"192.0.2.0/24\"]\n",
		bpffs, state, socket, pair.B.Name, ns.Name, plugin, pair.B.Name)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the root goes once the daemon is killed.
	t.Cleanup(func() {
		run([]string{"--bpffs", bpffs, "--state-dir", state, "--no-daemon", "detach", "--netns", ns.Name, pair.B.Name}, hermeticEnv(t, &bytes.Buffer{}, &bytes.Buffer{}))
	})
	// --kill-child: when unshare is killed, the daemon (its namespace's
	// init) gets SIGKILL, and its plugin with it.
	p := startProcess(t, "daemon", unshare, "--pid", "--fork", "--kill-child", "--mount-proc", bin, "run", "--config", cfg)
	logs, exited := p.logs, p.exited
	// The daemon's own view: its PID namespace's numbers.
	var raw api.PluginStatus
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := client.Dial(socket); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			st, err := c.Status(ctx, nil)
			cancel()
			c.Close()
			if err == nil && len(st.Daemon.Plugins) == 1 && st.Daemon.Plugins[0].State == api.StateRunning {
				raw = st.Daemon.Plugins[0]
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the daemon exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's plugin does not run:\n%s", logs.String())
		}
	}
	if raw.PIDNamespace == 0 || raw.PIDNamespace == daemon.PIDNamespace() {
		t.Fatalf("the daemon reports PID namespace %d, want its own (not this process's %d)", raw.PIDNamespace, daemon.PIDNamespace())
	}
	code, out, errOut := runCLI(t, "--socket", socket, "status")
	m := regexp.MustCompile(`running \(pid (\d+)\)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("status: exit %d, no plugin PID without a namespace:\n%s%s", code, out, errOut)
	}
	pid, _ := strconv.Atoi(m[1])
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "xdpchain-blocklist") {
		t.Errorf("status shows pid %d (the daemon's namespace says %d): /proc/%d/cmdline %q, %v; want the plugin", pid, raw.PID, pid, cmdline, err)
	}
	t.Logf("the plugin is pid %d in the daemon's PID namespace %d, pid %d here", raw.PID, raw.PIDNamespace, pid)
}

// TestStatusPIDUntranslated: a PID that cannot be translated says whose
// namespace it is in.
func TestStatusPIDUntranslated(t *testing.T) {
	itf := dispatcher.InterfaceStatus{Name: "eth0", Programs: []dispatcher.ProgramStatus{{Slot: 0, Name: "bl", Owner: "plugin:bl"}}}
	st := &api.Status{Plugins: []api.PluginStatus{{Name: "bl", Interface: "eth0", State: api.StateRunning, PID: 13, PIDNamespace: 1}}}
	viewPIDs(st) // no process is in a namespace with inode 1
	var out bytes.Buffer
	printStatus(&out, statusDoc{Interfaces: []dispatcher.InterfaceStatus{itf}, Plugins: st.Plugins, daemon: st})
	if !strings.Contains(out.String(), "running (pid 13 in PID namespace 1)") {
		t.Errorf("status does not say whose PID namespace pid 13 is in:\n%s", out.String())
	}
}
