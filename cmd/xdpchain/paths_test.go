package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// writeDaemonConfig writes a config whose [daemon] table names paths under
// dir, with extra appended, and returns its path and the three paths.
func writeDaemonConfig(t *testing.T, dir, extra string) (path, socket, bpffs, state string) {
	t.Helper()
	socket, bpffs, state = filepath.Join(dir, "d.sock"), filepath.Join(dir, "bpffs"), filepath.Join(dir, "state")
	path = filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nsocket = %q\nbpffs = %q\nstate_dir = %q\n%s", socket, bpffs, state, extra)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, socket, bpffs, state
}

// TestPathsFromConfig: without flags the CLI takes socket, bpffs and
// state_dir from the config named by --config or XDPCHAIN_CONFIG, or from
// the default file when it exists; a flag wins over the file; the answer
// says where it looked.
func TestPathsFromConfig(t *testing.T) {
	dir := t.TempDir()
	path, socket, bpffs, state := writeDaemonConfig(t, dir, "")
	// A [[program]] the daemon would refuse does not keep a client from
	// finding the daemon: only [daemon] is read.
	if err := os.WriteFile(path+".broken", append(mustRead(t, path), "[[program]]\nname = \"x y\"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	looked := func(b, s string) string {
		return fmt.Sprintf("looked in bpffs %s and state dir %s; no daemon at %s", b, s, socket)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     string // XDPCHAIN_CONFIG
		deflt   string // the default config file
		want    string
		wantErr string
	}{
		{name: "--config", args: []string{"--config", path}, want: looked(bpffs, state) + "; paths from " + path + " (--config)"},
		{name: "-c", args: []string{"-c", path}, want: "paths from " + path + " (--config)"},
		{name: "XDPCHAIN_CONFIG", env: path, want: looked(bpffs, state) + "; paths from " + path + " (XDPCHAIN_CONFIG)"},
		{name: "default file", deflt: path, want: "paths from " + path + " (default)"},
		{name: "flag beats env", args: []string{"--config", path}, env: "/nonexistent.toml", want: "(--config)"},
		{name: "flags beat the file", args: []string{"--config", path, "--bpffs", dir, "--state-dir", dir}, want: looked(dir, dir)},
		{name: "only [daemon] is read", args: []string{"--config", path + ".broken"}, want: looked(bpffs, state)},
		{name: "no default file", want: "default paths, no "},
		{name: "missing --config", args: []string{"--config", filepath.Join(dir, "nope.toml")}, wantErr: "config file not found: " + filepath.Join(dir, "nope.toml") + " (from --config)"},
		{name: "missing XDPCHAIN_CONFIG", env: filepath.Join(dir, "nope.toml"), wantErr: "config file not found: " + filepath.Join(dir, "nope.toml") + " (from XDPCHAIN_CONFIG)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := hermeticEnv(t, &out, &errb)
			env.env = func(k string) string {
				if k == configEnv {
					return tc.env
				}
				return ""
			}
			if tc.deflt != "" {
				env.defaultConfig = tc.deflt
			}
			code := run(append(tc.args, "status"), env)
			if tc.wantErr != "" {
				if code != 1 || !strings.Contains(errb.String(), tc.wantErr) {
					t.Errorf("exit %d, stderr %q; want %q", code, errb.String(), tc.wantErr)
				}
				return
			}
			if code != 0 || !strings.Contains(out.String(), "no interface has an xdpchain root") || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

// TestPathsConfigErrors: a bad [daemon] table is an error that names the
// file and the key; run and plan need a config file, the default one too.
func TestPathsConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[daemon]\nsocket = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "--config", bad, "status")
	if code != 1 || !strings.Contains(errOut, "reading the daemon's paths from "+bad+" (--config)") || !strings.Contains(errOut, "socket") {
		t.Errorf("bad [daemon]: exit %d, stderr %q", code, errOut)
	}
	for _, verb := range []string{"run", "plan"} {
		code, _, errOut := runCLI(t, verb)
		if code != 1 || !strings.Contains(errOut, "config file not found: ") || !strings.Contains(errOut, "(the default; name one with --config or XDPCHAIN_CONFIG)") {
			t.Errorf("%s without a config: exit %d, stderr %q", verb, code, errOut)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPathsFollowTheDaemon: with only the daemon's config file given
// (--config or XDPCHAIN_CONFIG), the CLI reaches the daemon, sees its
// chains, finds its pins without it, and says where it looked when an
// interface has no root.
func TestPathsFollowTheDaemon(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	objects := t.TempDir()
	obj, err := testprogs.WriteFile(objects, testprogs.Noop)
	if err != nil {
		t.Fatal(err)
	}
	ns := testutil.NewNetNSPrefix(t, "xcfg-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "xcfg-a", NameB: "xcfg-b"})
	dir := t.TempDir()
	bpffs, state := testutil.PrivateBPFFS(t), t.TempDir()
	startDaemon(t, bin, dir, bpffs, state)
	path := filepath.Join(dir, "config.toml")
	iface := pair.B.Name

	xdpchain := func(env string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XDPCHAIN_CONFIG="+env)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	t.Cleanup(func() { xdpchain(path, "--no-daemon", "detach", "--netns", ns.Name, iface) })

	if out, errOut, err := xdpchain("", "--config", path, "load", "--netns", ns.Name, "--name", "p", iface, obj); err != nil {
		t.Fatalf("load --config: %v: %s%s", err, out, errOut)
	}
	for _, tc := range []struct {
		env  string
		args []string
	}{
		{"", []string{"--config", path, "status", "--json"}},
		{path, []string{"status", "--json"}},
		{path, []string{"--no-daemon", "status", "--json"}},
	} {
		out, errOut, err := xdpchain(tc.env, tc.args...)
		if err != nil || !strings.Contains(out, `"name": "p"`) || !strings.Contains(out, iface) {
			t.Errorf("XDPCHAIN_CONFIG=%q xdpchain %v: %v\n%s%s", tc.env, tc.args, err, out, errOut)
		}
		if remote := strings.Contains(out, `"config": "`+path+`"`); remote == (tc.args[0] == "--no-daemon") {
			t.Errorf("XDPCHAIN_CONFIG=%q xdpchain %v: answered by the daemon %v:\n%s", tc.env, tc.args, remote, out)
		}
	}
	if _, errOut, err := xdpchain(path, "status", "--netns", ns.Name, pair.A.Name); err == nil ||
		!strings.Contains(errOut, "no xdpchain root") || !strings.Contains(errOut, "(asked the daemon at "+filepath.Join(dir, "xdpchain.sock")+"; paths from "+path+" (XDPCHAIN_CONFIG))") {
		t.Errorf("status of an interface without a root: %v, %q", err, errOut)
	}
	if _, errOut, err := xdpchain(path, "--no-daemon", "detach", "--netns", ns.Name, pair.A.Name); err == nil ||
		!strings.Contains(errOut, "(looked in bpffs "+bpffs+" and state dir "+state+"; paths from "+path+" (XDPCHAIN_CONFIG))") {
		t.Errorf("detach of an interface without a root: %v, %q", err, errOut)
	}
	if out, errOut, err := xdpchain(path, "--no-daemon", "detach", "--netns", ns.Name, iface); err != nil {
		t.Fatalf("detach through the config's pins: %v: %s%s", err, out, errOut)
	}
	if out, _, _ := xdpchain(path, "status"); !strings.Contains(out, "no interface has an xdpchain root (asked the daemon at ") {
		t.Errorf("status after detach: %q", out)
	}
}
