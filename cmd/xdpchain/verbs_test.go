package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// verbStep is one command line of the verb table, with what it must do on
// either path.
type verbStep struct {
	args []string // after the global flags; IFACE, NS and OBJ(name) are substituted
	ok   bool
	says string // in stdout on success, in the error line on failure
}

// verbTable exercises every chain-changing verb and its flags: placement,
// revisions, replace, mechanism, fall-through and the verifier log.
var verbTable = []verbStep{
	{[]string{"load", "--netns", "NS", "--name", "a", "--priority", "10", "IFACE", "OBJ(noop)"}, true, `loaded "a" on IFACE: slot 0 of 1, priority 10`},
	{[]string{"load", "--netns", "NS", "--name", "a", "IFACE", "OBJ(noop)"}, false, "--replace"},
	{[]string{"load", "--netns", "NS", "--name", "a", "--replace", "--priority", "20", "--mechanism", "linked", "--fallthrough", "drop", "IFACE", "OBJ(noop)"}, true, "priority 20, proceed-on pass (linked, native mode)"},
	// b sorts after a by name: below a's priority; c between b and a.
	{[]string{"load", "--netns", "NS", "--name", "b", "--before", "a", "IFACE", "OBJ(noop)"}, true, `loaded "b" on IFACE: slot 0 of 2, priority 19`},
	{[]string{"load", "--netns", "NS", "--name", "c", "--after", "b", "IFACE", "OBJ(noop)"}, true, `loaded "c" on IFACE: slot 1 of 3, priority 19`},
	{[]string{"load", "--netns", "NS", "--name", "d", "--after", "a", "--priority", "5", "IFACE", "OBJ(noop)"}, false, "placement"},
	{[]string{"load", "--netns", "NS", "--name", "d", "--after", "nosuch", "IFACE", "OBJ(noop)"}, false, `"nosuch" is not in the chain`},
	{[]string{"load", "--netns", "NS", "--verifier-log", "IFACE", "OBJ(bad)"}, false, `"bad"`},
	{[]string{"load", "--netns", "NS", "--name", "d", "--fallthrough", "aborted", "IFACE", "OBJ(noop)"}, false, "aborted reports program errors and cannot be the fall-through verdict; use drop"},
	{[]string{"load", "--netns", "NS", "--name", "d", "--expected-revision", "1", "IFACE", "OBJ(noop)"}, false, "stale: NS/IFACE is at revision 4, not the expected 1"},
	{[]string{"load", "--netns", "NS", "--name", "d", "--expected-revision", "4", "IFACE", "OBJ(noop)"}, true, "revision 5"},
	{[]string{"status", "--netns", "NS", "IFACE"}, true, "revision 5"},
	{[]string{"status", "--netns", "NS"}, true, "IFACE (ifindex"},
	{[]string{"explain", "--netns", "NS", "IFACE", "--packet", explainFrameHex}, true, "verdict drop, decided by (fall-through)"},
	{[]string{"explain", "--netns", "NS", "IFACE", "--packet", "0102"}, false, `program "b": test run`},
	{[]string{"explain", "--netns", "NS", "nosuch0", "--packet", explainFrameHex}, false, `interface "nosuch0"`},
	{[]string{"top", "--once", "--interval", "10ms", "--netns", "NS", "IFACE"}, true, "IFACE (netns NS): "},
	// Observing: the same errors and outputs on both paths, and the
	// chain's revision stays.
	{[]string{"dump", "--netns", "NS", "IFACE", "--program", "nosuch", "-w", "/dev/null"}, false, `no program "nosuch"`},
	{[]string{"dump", "--netns", "NS", "IFACE", "--program", "a", "--at", "input", "--verdict", "drop", "-w", "/dev/null"}, false, "verdicts select packets at a program's output"},
	{[]string{"dump", "--netns", "NS", "IFACE", "--program", "a", "--duration", "1ms", "-w", "/dev/null"}, true, ""},
	{[]string{"profile", "--netns", "NS", "--duration", "1ms", "--program", "a", "--sample", "10", "IFACE"}, true, "SLOT"},
	{[]string{"profile", "--netns", "NS", "--duration", "1ms", "--program", "nosuch", "IFACE"}, false, `no program "nosuch"`},
	{[]string{"trace", "--netns", "NS", "-c", "-1", "IFACE"}, false, "-c -1 is negative"},
	{[]string{"trace", "--netns", "NS", "--duration", "1ms", "IFACE"}, true, ""},
	{[]string{"status", "--netns", "NS", "IFACE"}, true, "revision 5"},
	{[]string{"unload", "--netns", "NS", "--name", "b", "--expected-revision", "0", "IFACE"}, false, "stale"},
	{[]string{"unload", "--netns", "NS", "--name", "b", "--expect-revision", "1", "IFACE"}, false, "at revision 5, not the expected 1"},
	{[]string{"unload", "--netns", "NS", "--name", "b", "--expected-revision", "5", "IFACE"}, true, "unloaded 1 program(s)"},
	{[]string{"unload", "--netns", "NS", "--name", "nosuch", "IFACE"}, false, `"nosuch"`},
	{[]string{"unload", "--netns", "/run/netns/NS", "--all", "IFACE"}, true, "unloaded 3 program(s)"},
	{[]string{"detach", "--netns", "NS", "--expected-revision", "0", "IFACE"}, false, "stale"},
	{[]string{"detach", "--netns", "NS", "IFACE"}, true, "detached xdpchain from IFACE"},
	{[]string{"status", "--netns", "NS", "IFACE"}, false, "no xdpchain root"},
	{[]string{"detach", "--netns", "NS", "IFACE"}, false, "no xdpchain root"},
	{[]string{"unload", "--netns", "NS", "--all", "IFACE"}, false, "no xdpchain root"},
	{[]string{"load", "--netns", "NS", "--name", "e", "--before", "x", "IFACE", "OBJ(noop)"}, false, `"x" is not in the chain`},
	{[]string{"status", "--netns", "NS", "IFACE"}, false, "no xdpchain root"}, // the refused load attached nothing
}

// explainFrameHex is a minimal Ethernet frame (IPv4 ethertype, zero
// payload) for explain.
var explainFrameHex = "ffffffffffff020000000001" + "0800" + strings.Repeat("00", 46)

// verbOutcome is what one step did, with the path's own names replaced.
type verbOutcome struct {
	code   int
	out    string // first line of stdout
	errOut string // first line of stderr
	vlog   bool   // a verifier log followed the error
	chain  string // the chain after the step (status --json), or ""
}

// TestVerbsBothPaths runs the verb table with a daemon serving the control
// socket and without one, on interfaces of their own, and compares every
// outcome: each flag means the same on both paths. Through the daemon the
// CLI is given pins of nobody's: every verb (explain and top too) must ask
// the daemon.
func TestVerbsBothPaths(t *testing.T) {
	results := bothPaths(t, "x8-", verbTable, []string{testprogs.Noop, testprogs.Bad}, nil)
	if v := results["pins"]; len(v) > 7 && !v[7].vlog {
		t.Errorf("--verifier-log: no verifier log after the error")
	}
}

// bothPaths runs table without a daemon and through one (on interfaces
// of their own, namespaces named with prefix, the testprogs objects
// written for OBJ(name)), and fails where an outcome differs. setup, when
// set, runs first on each path's interface. It returns each path's
// outcomes.
func bothPaths(t *testing.T, prefix string, table []verbStep, objs []string, setup func(t *testing.T, ns *testutil.NetNS, iface string)) map[string][]verbOutcome {
	t.Helper()
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	objects := t.TempDir()
	for _, name := range objs {
		if _, err := testprogs.WriteFile(objects, name); err != nil {
			t.Fatal(err)
		}
	}
	results := map[string][]verbOutcome{}
	for i, path := range []string{"pins", "daemon"} {
		t.Run(path, func(t *testing.T) {
			ns := testutil.NewNetNSPrefix(t, prefix)
			pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: fmt.Sprintf("%sa%d", prefix, i), NameB: fmt.Sprintf("%sb%d", prefix, i)})
			bpffs, state, dir := testutil.PrivateBPFFS(t), t.TempDir(), t.TempDir()
			pins := []string{"--bpffs", bpffs, "--state-dir", state}
			global := append(pins, "--socket", filepath.Join(dir, "xdpchain.sock"))
			if path == "daemon" {
				startDaemon(t, bin, dir, bpffs, state)
				// Pins of nobody's: a verb that read them instead of asking
				// the daemon would find no root and differ.
				global = []string{"--bpffs", t.TempDir(), "--state-dir", t.TempDir(), "--socket", filepath.Join(dir, "xdpchain.sock")}
			}
			iface := pair.B.Name
			t.Cleanup(func() { runCLI(t, append(pins, "--no-daemon", "detach", "--netns", ns.Name, iface)...) })
			if setup != nil {
				setup(t, ns, iface)
			}
			subst := func(s string) string {
				s = strings.ReplaceAll(s, "IFACE", iface)
				s = strings.ReplaceAll(s, "NS", ns.Name)
				if strings.HasPrefix(s, "OBJ(") {
					s = filepath.Join(objects, strings.TrimSuffix(strings.TrimPrefix(s, "OBJ("), ")")+".o")
				}
				return s
			}
			norm := func(s string) string {
				s, _, _ = strings.Cut(s, "\n")
				// Where a path looked differs by nature, and kernel IDs.
				s, _, _ = strings.Cut(s, " (looked in ")
				s, _, _ = strings.Cut(s, " (asked the daemon ")
				s = programIDRE.ReplaceAllString(s, "program ID")
				return strings.ReplaceAll(strings.ReplaceAll(s, ns.Name, "NS"), iface, "IFACE")
			}
			for _, step := range table {
				var args []string
				for _, a := range step.args {
					args = append(args, subst(a))
				}
				code, out, errOut := runCLI(t, append(global, args...)...)
				o := verbOutcome{code: code, out: norm(out), errOut: norm(errOut), vlog: strings.Contains(errOut, "verifier log of")}
				full := programIDRE.ReplaceAllString(strings.ReplaceAll(strings.ReplaceAll(out, ns.Name, "NS"), iface, "IFACE"), "program ID")
				switch args[0] {
				case "status", "top", "trace":
					o.out = "" // counters, rates, times, IDs and packets differ
				case "explain":
					o.out = full // every line: the same on both paths
				}
				if _, sout, _ := runCLI(t, append(global, "status", "--json", "--netns", ns.Name, iface)...); sout != "" {
					o.chain = chainOf(t, sout)
				}
				line := strings.Join(step.args, " ")
				if step.ok != (code == 0) {
					t.Errorf("%s: exit %d, want ok %v: %q %q", line, code, step.ok, out, errOut)
				}
				if got := o.errOut; step.ok {
					got = full
					if !strings.Contains(got, step.says) {
						t.Errorf("%s: says %q, want %q", line, got, step.says)
					}
				} else if !strings.Contains(got, step.says) {
					t.Errorf("%s: error %q, want %q", line, got, step.says)
				}
				results[path] = append(results[path], o)
			}
		})
	}
	pins, viaDaemon := results["pins"], results["daemon"]
	if len(pins) != len(table) || len(viaDaemon) != len(table) {
		t.Fatalf("a path did not run every step")
	}
	for i, step := range table {
		if pins[i] != viaDaemon[i] {
			t.Errorf("%s:\n  without a daemon %+v\n  through a daemon %+v", strings.Join(step.args, " "), pins[i], viaDaemon[i])
		}
	}
	return results
}

// programIDRE matches a kernel program ID in a message.
var programIDRE = regexp.MustCompile(`program \d+`)

// chainOf summarizes status --json: mechanism, fall-through, revision and
// each program's name, priority and owner, in slot order.
func chainOf(t *testing.T, out string) string {
	t.Helper()
	var doc struct {
		Interfaces []struct {
			Mechanism   string `json:"mechanism"`
			Fallthrough string `json:"fallthrough"`
			Revision    uint64 `json:"revision"`
			Programs    []struct {
				Name     string `json:"name"`
				Priority int    `json:"priority"`
				Owner    string `json:"owner"`
			} `json:"programs"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var b strings.Builder
	for _, itf := range doc.Interfaces {
		fmt.Fprintf(&b, "%s ft=%s rev=%d:", itf.Mechanism, itf.Fallthrough, itf.Revision)
		for _, p := range itf.Programs {
			fmt.Fprintf(&b, " %s/%d/%s", p.Name, p.Priority, p.Owner)
		}
	}
	return b.String()
}

// startDaemon runs `xdpchain run` with a config of no interfaces on the
// given pins, and waits until its socket answers. It is killed when the
// test ends.
func startDaemon(t *testing.T, bin, dir, bpffs, state string) {
	t.Helper()
	socket := filepath.Join(dir, "xdpchain.sock")
	path := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n", bpffs, state, socket)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "xdpchain run", bin, "run", "--config", path)
	logs, exited := p.logs, p.exited
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("xdpchain run exited:\n%s", logs.String())
		default:
		}
		if strings.Contains(logs.String(), "control socket listening") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for the daemon's socket:\n%s", logs.String())
		}
	}
}

// daemonProcess is a process a test started (a daemon), its output and
// when it exits.
type daemonProcess struct {
	cmd    *exec.Cmd
	logs   *testutil.Buffer
	exited chan struct{}
}

// startProcess starts name with args, its output in logs; when the test
// ends it is killed (unless stopped before) and its output logged if the
// test failed.
func startProcess(t *testing.T, what, name string, args ...string) *daemonProcess {
	t.Helper()
	p := &daemonProcess{cmd: exec.Command(name, args...), logs: &testutil.Buffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s:\n%s", what, p.logs.String())
		}
	})
	return p
}
