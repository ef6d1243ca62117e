package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, hermeticEnv(t, &out, &errb))
	return code, out.String(), errb.String()
}

// hermeticEnv is a CLI environment that reads no variable, whose default
// config file does not exist and whose default paths are the test's own
// (an empty bpffs and state dir, no daemon), whatever the machine has.
func hermeticEnv(t *testing.T, stdout, stderr io.Writer) *cliEnv {
	dir := t.TempDir()
	return &cliEnv{
		stdout: stdout, stderr: stderr,
		env:           func(string) string { return "" },
		defaultConfig: filepath.Join(dir, "no-config.toml"),
		defaultPaths:  paths{bpffs: filepath.Join(dir, "bpffs"), state: filepath.Join(dir, "state"), socket: filepath.Join(dir, "xdpchain.sock")},
	}
}

func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.o"), testprogs.Object(testprogs.Noop), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(`
[[interface]]
name = "eth0"
[[program]]
name = "p"
object = "prog.o"
interfaces = ["eth0"]
`), 0o644)
	code, stdout, stderr := runCLI(t, "run", "--config", good, "--check")
	if code != 0 || !strings.Contains(stdout, "ok (1 interfaces, 0 plugins, 1 programs, 0 grants)") {
		t.Errorf("--check of a good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`
[[interface]]
name = "eth0"
mode = "turbo"
[[program]]
name = "p"
object = "prog.o"
interfaces = ["eth1"]
`), 0o644)
	code, stdout, stderr = runCLI(t, "run", "--config", bad, "--check")
	if code == 0 {
		t.Fatalf("--check of a bad file succeeded: %q", stdout)
	}
	for _, want := range []string{
		bad + ":4: interface[0].mode: unknown mode \"turbo\"",
		bad + ":8: program[0].interfaces: unknown interface \"eth1\"",
		"2 problems",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	missing := filepath.Join(dir, "missing.toml")
	os.WriteFile(missing, []byte(`
[[interface]]
name = "eth0"
[[program]]
name = "p"
object = "nope.o"
interfaces = ["eth0"]
`), 0o644)
	code, _, stderr = runCLI(t, "run", "--config", missing, "--check")
	if code == 0 || !strings.Contains(stderr, missing+":6: program[0].object: "+dir+"/nope.o: no such file or directory") {
		t.Errorf("--check with a missing object: exit %d, stderr %q", code, stderr)
	}
}

// TestRunDaemon runs `xdpchain run` as a process: it applies the config,
// reloads on SIGHUP (refusing a bad file and staying up), and on SIGTERM
// exits 0 leaving the chain in place.
func TestRunDaemon(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	ns := testutil.NewNetNS(t)
	pair := testutil.NewVethPair(t, ns, ns, nil)
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	for _, name := range []string{"counter", "noop"} {
		if _, err := testprogs.WriteFile(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(dir, "xdpchain.sock")
	path := filepath.Join(dir, "config.toml")
	write := func(programs ...string) {
		src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n",
			bpffs, filepath.Join(dir, "state"), socket, pair.B.Name, ns.Name)
		for _, p := range programs {
			src += fmt.Sprintf("\n[[program]]\nname = %q\nobject = %q\ninterfaces = [%q]\n", p, p+".o", pair.B.Name)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("counter")

	var logs testutil.Buffer
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("xdpchain run:\n%s", logs.String())
		}
	})

	chain := func() string {
		t.Helper()
		c, err := client.Dial(socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st, err := c.Status(context.Background(), &chain.Interface{NetNS: ns.Name, Name: pair.B.Name})
		if errors.Is(err, dispatcher.ErrNotAttached) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, itf := range st.Interfaces {
			for _, p := range itf.Programs {
				names = append(names, p.Name)
			}
		}
		return strings.Join(names, " ")
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				t.Fatalf("xdpchain run exited (%v) while waiting for %s", waitErr, what)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timeout waiting for %s", what)
			}
		}
	}
	waitFor("the socket", func() bool { _, err := os.Stat(socket); return err == nil })
	if got := chain(); got != "counter" {
		t.Fatalf("chain %q, want counter", got)
	}

	write("counter", "noop")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the reload", func() bool { return chain() == "counter noop" })

	os.WriteFile(path, []byte("[daemon]\nbogus = 1\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the refusal", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if !strings.Contains(logs.String(), "daemon.bogus: unknown key") {
		t.Errorf("the refusal does not say why:\n%s", logs.String())
	}
	if got := chain(); got != "counter noop" {
		t.Errorf("after a refused reload: chain %q", got)
	}

	// xdpchain reload (the unit's ExecReload) returns once the file's
	// config is in force, and fails with the daemon's reason when it is
	// refused.
	write("noop")
	code, out, errOut := runCLI(t, "--config", path, "reload")
	if code != 0 || !strings.Contains(out, "reloaded "+path+": 1 interfaces, 0 plugins, 1 programs") {
		t.Fatalf("xdpchain reload: exit %d, %q, %q", code, out, errOut)
	}
	if got := chain(); got != "noop" {
		t.Errorf("when xdpchain reload returned: chain %q, want noop", got)
	}
	write("noop")
	broken, _ := os.ReadFile(path)
	os.WriteFile(path, append(broken, "bogus = 1\n"...), 0o644)
	code, out, errOut = runCLI(t, "--config", path, "reload")
	if code != 1 || !strings.Contains(errOut, "config not applied") || !strings.Contains(errOut, "program[0].bogus: unknown key") {
		t.Errorf("xdpchain reload of a broken config: exit %d, %q, %q; want 1 and the daemon's reason", code, out, errOut)
	}
	// A file that does not parse at all: the socket flag names the daemon.
	os.WriteFile(path, []byte("[daemon\n"), 0o644)
	code, out, errOut = runCLI(t, "--config", path, "--socket", socket, "reload")
	if code != 1 || !strings.Contains(errOut, "config not applied") {
		t.Errorf("xdpchain reload of a file that does not parse: exit %d, %q, %q; want 1 and the daemon's reason", code, out, errOut)
	}
	if got := chain(); got != "noop" {
		t.Errorf("after refused reloads: chain %q, want noop", got)
	}
	write("counter", "noop")
	if code, out, errOut = runCLI(t, "--config", path, "reload"); code != 0 || chain() != "counter noop" {
		t.Fatalf("xdpchain reload: exit %d, %q, %q, chain %q", code, out, errOut, chain())
	}

	// While the daemon runs, the CLI's load/status/unload go through its
	// socket: the program is owned by the calling user, and the daemon's
	// own programs stay (TestVerbsBothPaths compares both paths).
	code, out, errOut = runCLI(t, "--socket", socket, "load", "--netns", ns.Name, pair.B.Name, filepath.Join(dir, "noop.o"), "--name", "mine", "--priority", "7")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("owner user:%d", os.Getuid())) {
		t.Fatalf("load through the daemon: exit %d, %q, %q", code, out, errOut)
	}
	if got := chain(); got != "mine counter noop" {
		t.Errorf("after a CLI load through the daemon: chain %q", got)
	}
	code, out, errOut = runCLI(t, "--socket", socket, "status", "--netns", ns.Name, pair.B.Name)
	if code != 0 || !strings.Contains(out, "mine") || !strings.Contains(out, fmt.Sprintf("user:%d", os.Getuid())) {
		t.Errorf("status through the daemon: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "--socket", socket, "unload", "--netns", ns.Name, "--name", "mine", pair.B.Name)
	if code != 0 || !strings.Contains(out, "unloaded 1 program(s)") {
		t.Errorf("unload through the daemon: exit %d, %q, %q", code, out, errOut)
	}
	if got := chain(); got != "counter noop" {
		t.Errorf("after a CLI unload through the daemon: chain %q", got)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("xdpchain run after SIGTERM: %v", waitErr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("xdpchain run did not exit on SIGTERM")
	}
	out, _, err := testutil.RunXDPChain(t, bin, "--bpffs", bpffs, "--state-dir", filepath.Join(dir, "state"), "status", "--json", "--netns", ns.Name, pair.B.Name)
	if err != nil || !strings.Contains(out, `"name": "counter"`) || !strings.Contains(out, `"name": "noop"`) {
		t.Errorf("after SIGTERM the chain should stay: %v\n%s", err, out)
	}
}

// blocklistPlugin returns the blocklist plugin's binary.
func blocklistPlugin(t *testing.T) string {
	t.Helper()
	return testutil.PluginBinary(t, "github.com/xdpchain/xdpchain/plugins/blocklist/cmd/xdpchain-blocklist")
}

// TestRunCheckPlugins: --check has each plugin validate its settings and
// reports a refusal at the plugin's line with the plugin's reason.
func TestRunCheckPlugins(t *testing.T) {
	dir := t.TempDir()
	bin := blocklistPlugin(t)
	write := func(prefix string) string {
		path := filepath.Join(dir, "plugins.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(`
[[interface]]
name = "eth0"

[[plugin]]
name = "bl"
command = %q
interfaces = ["eth0"]
[plugin.settings]
prefixes = ["192.0.2.0/24", %q]
`, bin, prefix)), 0o644)
		return path
	}
	path := write("2001:db8::/32")
	code, stdout, stderr := runCLI(t, "run", "--config", path, "--check")
	if code != 0 || !strings.Contains(stdout, "ok (1 interfaces, 1 plugins, 0 programs, 0 grants)") {
		t.Errorf("--check of good settings: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	path = write("10.0.0.0/33")
	code, _, stderr = runCLI(t, "run", "--config", path, "--check")
	want := path + `:5: plugin[0].settings: refused by plugin bl: prefix "10.0.0.0/33": `
	if code == 0 || !strings.Contains(stderr, want) || strings.Count(stderr, "plugin bl") != 1 {
		t.Errorf("--check of refused settings: exit %d, stderr %q, want %q...", code, stderr, want)
	}
}
