package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

const bpfRefused = "bpf() refused by the kernel (seccomp, LSM or capabilities)"

// TestBPFRefused runs xdpchain with bpf() refused by a seccomp filter (as
// systemd-nspawn's default filter refuses it): features, the daemon and a
// load say so with the errno, blame nothing else (no MEMLOCK hint, no
// missing link), exit non-zero, and leave nothing in bpffs or the state
// directory.
func TestBPFRefused(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := testutil.DenyBPF(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	check := func(what, out string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with bpf() refused: exit 0, want non-zero:\n%s", what, out)
		}
		if !strings.Contains(out, bpfRefused) || !strings.Contains(out, "EPERM") {
			t.Errorf("%s with bpf() refused does not say %q with the errno:\n%s", what, bpfRefused, out)
		}
		if strings.Contains(out, "MEMLOCK") {
			t.Errorf("%s with bpf() refused blames MEMLOCK:\n%s", what, out)
		}
	}

	out, err := run("features")
	check("xdpchain features", out, err)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "slot mechanism") && strings.HasSuffix(strings.TrimSpace(line), "yes") {
			t.Errorf("xdpchain features with bpf() refused: %q", line)
		}
	}
	if !strings.Contains(out, "slot mechanism (auto)") || strings.Contains(out, "inline (auto") {
		t.Errorf("xdpchain features with bpf() refused picks a mechanism:\n%s", out)
	}
	out, err = run("features", "--json")
	check("xdpchain features --json", out, err)

	ns := testutil.NewNetNS(t)
	pair := testutil.NewVethPair(t, ns, ns, nil)
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	obj, err := testprogs.WriteFile(dir, "counter")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	config := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n\n[[program]]\nname = \"counter\"\nobject = %q\ninterfaces = [%q]\n",
		bpffs, state, filepath.Join(state, "xdpchain.sock"), pair.B.Name, ns.Name, obj, pair.B.Name)
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A fresh bpffs holds the kernel's maps.debug and progs.debug.
	empty := testutil.Tree(t, bpffs)
	out, err = run("run", "--config", config)
	check("xdpchain run", out, err)
	if strings.Contains(out, "link") {
		t.Errorf("xdpchain run with bpf() refused talks about a link:\n%s", out)
	}
	out, err = run("--no-daemon", "--bpffs", bpffs, "--state-dir", state, "load", "--netns", ns.Name, pair.B.Name, obj)
	check("xdpchain load", out, err)
	if left := testutil.Tree(t, bpffs); !slices.Equal(left, empty) {
		t.Errorf("bpf() refused, yet bpffs holds %v (fresh: %v)", left, empty)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("bpf() refused, yet the state directory %s was made (%v): %v", state, err, testutil.Tree(t, state))
	}
}
