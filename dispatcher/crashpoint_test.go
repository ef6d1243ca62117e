package dispatcher_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/link"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/crashpoint"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// envCrashChild makes the test binary a child that applies a change and
// SIGKILLs itself at a crash point (crashChild).
const envCrashChild = "XDPCHAIN_DISPATCHER_CRASH_CHILD"

type crashJob struct {
	Step    string               `json:"step"`
	Iface   string               `json:"iface"`
	Options dispatcher.Options   `json:"options"`
	Mech    dispatcher.Mechanism `json:"mechanism"`
}

// crashChild adds a program to the root's chain and dies at job.Step; it
// returns (exit code 3) only if the step was never reached.
func crashChild(spec string) int {
	var job crashJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	job.Options.Steps = crashpoint.Kill(job.Step, 1)
	r, err := dispatcher.Attach(job.Iface, &job.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := dispatcher.NewProgram("new", testprogs.Object(testprogs.Counter), testprogs.Program(testprogs.Counter))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, p)
		return nil
	})
	fmt.Fprintf(os.Stderr, "step %s never reached (update: %v)\n", job.Step, err)
	return 3
}

// runningID is the program the kernel runs behind the interface's pinned
// root link.
func runningID(t *testing.T, f *fixture) uint32 {
	t.Helper()
	var found uint32
	filepath.WalkDir(f.bpffs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "link" {
			return nil
		}
		l, err := link.LoadPinnedLink(path, nil)
		if err != nil {
			return nil
		}
		defer l.Close()
		if info, err := l.Info(); err == nil {
			found = uint32(info.Program)
		}
		return nil
	})
	if found == 0 {
		t.Fatal("no pinned root link")
	}
	return found
}

// TestCrashPoints kills a process at every crash point of an apply (on
// every mechanism) and checks that the chain is the old or the new one,
// that status agrees with the program the kernel runs, that the dispatcher
// still serves packets, and that the next change cleans up: afterwards the
// pins and state files are exactly those of the chain before the crash.
func TestCrashPoints(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		add(t, r, program(t, testprogs.Noop, "a"))
		baseline := testutil.Tree(t, f.bpffs, f.stateDir)

		for _, step := range dispatcher.CrashPoints {
			t.Run(step, func(t *testing.T) {
				job, _ := json.Marshal(crashJob{Step: step, Iface: f.iface(), Options: *f.opts(), Mech: mech})
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envCrashChild+"="+string(job))
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the child was not killed at %s: %v\n%s", step, err, out)
				}

				// Looking changes nothing and agrees with the kernel.
				st := status(t, r)
				got := names(t, st)
				slices.Sort(got)
				if g := strings.Join(got, ","); g != "a" && g != "a,new" {
					t.Errorf("after a crash at %s the chain is %v, want the old (a) or the new (a, new)", step, got)
				}
				if id := runningID(t, f); id != st.DispatcherID {
					t.Errorf("after a crash at %s status says dispatcher %d, the kernel runs %d", step, st.DispatcherID, id)
				}
				if v := runDispatcher(t, r, udpTo(9)); v != dispatcher.Pass {
					t.Errorf("after a crash at %s the dispatcher returns %s", step, v)
				}

				// The next change cleans up.
				if _, err := r.Update(func(s *dispatcher.Spec) error {
					if i := s.Programs.Index("new"); i >= 0 {
						s.Programs = append(s.Programs[:i], s.Programs[i+1:]...)
					}
					s.Programs[0].Priority++ // a change, whatever the crash left
					return nil
				}); err != nil {
					t.Fatalf("the change after a crash at %s: %v", step, err)
				}
				if got := strings.Join(names(t, status(t, r)), ","); got != "a" {
					t.Errorf("after the next change the chain is %q, want a", got)
				}
				if after := testutil.Tree(t, f.bpffs, f.stateDir); !slices.Equal(after, baseline) {
					t.Errorf("after a crash at %s and the next change, pins and state files differ from before: extra %v, missing %v", step, testutil.Missing(after, baseline), testutil.Missing(baseline, after))
				}
			})
		}
	})
}
