package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/crashpoint"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// envCrashDaemon makes the test binary a daemon that applies a config and
// SIGKILLs itself at a crash point (crashDaemonMain).
const envCrashDaemon = "XDPCHAIN_DAEMON_CRASH_CHILD"

type crashDaemonJob struct {
	Config string `json:"config"`
	Step   string `json:"step"`
	// Occurrence: die the nth time the step is reached (1 = the first).
	Occurrence int `json:"occurrence"`
}

// crashDaemonMain runs the daemon on job.Config and dies at the job's
// step; it exits 3 only if the step was never reached.
func crashDaemonMain() int {
	var job crashDaemonJob
	if err := json.Unmarshal([]byte(os.Getenv(envCrashDaemon)), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, err := config.Load(job.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	go func() {
		// The apply is over when the socket serves; a step not reached by
		// then never will be.
		for ctx.Err() == nil {
			if c, err := client.Dial(cfg.Daemon.Socket); err == nil {
				c.Close()
				cancel()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	err = daemon.Run(ctx, cfg, daemon.Options{ConfigPath: job.Config, Logger: log, Steps: crashpoint.Kill(job.Step, job.Occurrence)})
	fmt.Fprintf(os.Stderr, "step %s (occurrence %d) never reached; Run: %v\n", job.Step, job.Occurrence, err)
	return 3
}

// TestDaemonCrashPoints kills a daemon at every crash point of its apply
// (each occurrence of the per-interface ones), on every mechanism, while it
// moves three interfaces from an old config to a new one: a program kept, a
// program replaced by another object, a program added, a new plugin, and a
// third interface that had no root. After each crash every interface's
// chain is the old or the new one, status (every interface and each one
// alone) agrees with the program the kernel runs, packets pass, and the
// next daemon converges on the new config leaving exactly the pins and
// state files of a daemon that never crashed.
func TestDaemonCrashPoints(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t)
		p2 := f.secondPair("xcr-a2", "xcr-b2")
		p3 := testutil.NewVethPair(t, f.send, f.recv, &testutil.VethOptions{NameA: "xcr-a3", NameB: "xcr-b3"})
		ifaces := []string{f.iface(), p2.B.Name, p3.B.Name}
		iface := func(name string) string {
			return fmt.Sprintf("[[interface]]\nname = %q\nnetns = %q\nmode = \"native\"\nmechanism = %q\n\n", name, f.recv.Name, mech)
		}
		ref := func(name string) string { return f.recv.Name + "/" + name }
		// f.writeConfig writes the fixture's interface; its mechanism
		// comes from a second [[interface]] of the same name being
		// refused, so the three are written here in full.
		write := func(name, body string) string {
			src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n", f.bpffs, f.state, f.socket())
			src += body
			path := filepath.Join(f.dir, name)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		oldCfg := write("old.toml", iface(ifaces[0])+iface(ifaces[1])+fmt.Sprintf(`
[[program]]
name = "keep"
object = "counter.o"
interfaces = [%q, %q]

[[program]]
name = "swap"
object = "noop.o"
priority = 60
interfaces = [%q, %q]
`, ref(ifaces[0]), ref(ifaces[1]), ref(ifaces[0]), ref(ifaces[1])))
		newCfg := write("new.toml", iface(ifaces[0])+iface(ifaces[1])+iface(ifaces[2])+fmt.Sprintf(`
[[program]]
name = "keep"
object = "counter.o"
interfaces = ["*"]

[[program]]
name = "swap"
object = "dropport.o"
priority = 60
interfaces = [%q, %q]

[[program]]
name = "added"
object = "noop.o"
priority = 70
interfaces = ["*"]

[[plugin]]
name = "guard"
command = %q
interfaces = [%q]
priority = 20
`, ref(ifaces[0]), ref(ifaces[1]), blocklistBin, ref(ifaces[0])))

		// applyWith runs a daemon on a config until it serves, then stops
		// it (the chains stay), and returns every interface's chain.
		applyWith := func(path string) map[string]string {
			t.Helper()
			if err := os.WriteFile(filepath.Join(f.dir, "config.toml"), mustRead(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			f.start(daemon.Options{})
			f.stop()
			if path == oldCfg {
				// The old world has no root on the third interface, so
				// that the new config attaches one.
				err := dispatcher.DetachInterface(ifaces[2], &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state})
				if err != nil && !errors.Is(err, dispatcher.ErrNotAttached) {
					t.Fatal(err)
				}
			}
			return chains(t, f, ifaces)
		}
		newChains := applyWith(newCfg)
		baseline := testutil.KeptTree(t, f.bpffs, f.state)
		oldChains := applyWith(oldCfg)
		if slices.Equal(testutil.KeptTree(t, f.bpffs, f.state), baseline) {
			t.Fatal("the old and the new config leave the same pins: the test would not see a difference")
		}

		type crash struct {
			step string
			nth  int
		}
		var crashes []crash
		for _, step := range daemon.CrashPoints {
			n := 1
			if step == daemon.CrashRootOpened || step == daemon.CrashInterfaceApplied {
				n = len(ifaces)
			}
			for i := 1; i <= n; i++ {
				crashes = append(crashes, crash{step, i})
			}
		}
		for _, c := range crashes {
			t.Run(fmt.Sprintf("%s-%d", c.step, c.nth), func(t *testing.T) {
				job, _ := json.Marshal(crashDaemonJob{Config: newCfg, Step: c.step, Occurrence: c.nth})
				cmd := exec.Command(selfBin, "-test.run=^$")
				cmd.Env = append(os.Environ(), envCrashDaemon+"="+string(job))
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the daemon was not killed at %s #%d: %v\n%s", c.step, c.nth, err, out)
				}

				// Each chain is the old or the new one — the new on the
				// interfaces the apply had reached — and every view agrees
				// with the kernel. The daemon changes several interfaces at
				// once, so which ones it had reached depends on timing:
				// none before the chains, at least n at the nth
				// interface-applied, all from chains-applied on.
				got := chains(t, f, ifaces)
				minNew, maxNew := len(ifaces), len(ifaces)
				switch c.step {
				case daemon.CrashPluginsStarted:
					minNew, maxNew = 0, 0
				case daemon.CrashRootOpened:
					minNew = 0
				case daemon.CrashInterfaceApplied:
					minNew = c.nth
				}
				reached := 0
				for _, name := range ifaces {
					switch g := got[name]; g {
					case newChains[name]:
						reached++
					case oldChains[name]:
					default:
						t.Errorf("after a crash at %s #%d, %s runs\n  %s\nneither the old chain\n  %s\nnor the new\n  %s", c.step, c.nth, name, g, oldChains[name], newChains[name])
					}
				}
				if reached < minNew || reached > maxNew {
					t.Errorf("after a crash at %s #%d, %d interfaces run the new chain, want %d to %d", c.step, c.nth, reached, minNew, maxNew)
				}
				// The plugin processes it started follow it.
				waitFor(t, 10*time.Second, "the crashed daemon's plugin processes to exit", func() bool { return pluginProcesses() == 0 })
				if n := f.deliver(false, 20); n != 20 {
					t.Errorf("after a crash at %s #%d, %d of 20 datagrams arrived", c.step, c.nth, n)
				}

				// The next daemon converges and leaves what a daemon that
				// never crashed leaves (the programs kept verified alone
				// named by what runs them: their digests cover map IDs,
				// which differ when maps are made again).
				if after := applyWith(newCfg); !maps.Equal(after, newChains) {
					t.Errorf("after a crash at %s #%d the next daemon left %v, want %v", c.step, c.nth, after, newChains)
				}
				if after := testutil.KeptTree(t, f.bpffs, f.state); !slices.Equal(after, baseline) {
					t.Errorf("after a crash at %s #%d and the next daemon, pins and state files differ from a clean run: extra %v, missing %v", c.step, c.nth, testutil.Missing(after, baseline), testutil.Missing(baseline, after))
				}
				if t.Failed() {
					t.Logf("the crashed daemon's log:\n%s", out)
				}
				if back := applyWith(oldCfg); !maps.Equal(back, oldChains) {
					t.Fatalf("back on the old config: %v, want %v", back, oldChains)
				}
			})
		}
	})
}

// chains describes each interface's chain — "none" without a root, else
// the programs (name, owner, object) in slot order — after checking that
// the status of every interface and of each one alone say the same and
// name the program the kernel runs.
func chains(t *testing.T, f *fixture, ifaces []string) map[string]string {
	t.Helper()
	opts := &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.state}
	all, err := dispatcher.List(opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range ifaces {
		var kernelID uint32
		testutil.InNetNS(t, f.recv, func() error {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if x := l.Attrs().Xdp; x != nil {
				kernelID = x.ProgId
			}
			return nil
		})
		var listed *dispatcher.InterfaceStatus
		for i := range all {
			if all[i].Name == name && all[i].NetNS == f.recv.Name {
				listed = &all[i]
			}
		}
		r, err := dispatcher.Open(name, opts)
		if errors.Is(err, dispatcher.ErrNotAttached) {
			if listed != nil || kernelID != 0 {
				t.Errorf("%s: no root, but listed %v and the kernel runs program %d", name, listed != nil, kernelID)
			}
			out[name] = "none"
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, err := r.Status()
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if listed == nil || listed.DispatcherID != st.DispatcherID || listed.Revision != st.Revision {
			t.Errorf("%s: status of every interface (%+v) and of the interface (dispatcher %d, revision %d) differ", name, listed, st.DispatcherID, st.Revision)
		}
		if st.DispatcherID != kernelID {
			t.Errorf("%s: status says dispatcher %d, the kernel runs %d", name, st.DispatcherID, kernelID)
		}
		var progs []string
		for _, p := range st.Programs {
			progs = append(progs, fmt.Sprintf("%s(%s,%.8s)", p.Name, p.Owner, p.Object))
		}
		if len(progs) == 0 {
			// An empty root passes everything, as no root does.
			out[name] = "none"
			continue
		}
		out[name] = strings.Join(progs, " ")
	}
	return out
}

// pluginProcesses counts the processes running the blocklist plugin.
func pluginProcesses() int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && exe == blocklistBin {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
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
