package dispatcher_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	Added   []string             `json:"added"` // the programs added
}

// crashChild adds programs to the root's chain and dies at job.Step; it
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
	var added []dispatcher.Program
	for _, name := range job.Added {
		p, err := dispatcher.NewProgram(name, testprogs.Object(testprogs.Counter), testprogs.Program(testprogs.Counter))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		added = append(added, p)
	}
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, added...)
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
// In the grown case the chain before has 3 programs, and the one with 6
// programs added outgrows the root's counters map (a new one is made and
// pinned under another name: the pins are compared with the counters
// map's name left out).
func TestCrashPoints(t *testing.T) {
	vmtest.LogWhere(t)
	for _, grown := range []bool{false, true} {
		t.Run(map[bool]string{false: "a", true: "grown"}[grown], func(t *testing.T) {
			testCrashPoints(t, grown)
		})
	}
}

// countersPin matches the counters map's pin in a testutil.Tree line.
var countersPin = regexp.MustCompile(`/(stats|counters-[0-9]+)$`)

func testCrashPoints(t *testing.T, grown bool) {
	initial, added := []string{"a"}, []string{"new"}
	if grown {
		initial, added = []string{"a", "b", "c"}, []string{"new", "new1", "new2", "new3", "new4", "new5"}
	}
	both := slices.Sorted(slices.Values(append(slices.Clone(initial), added...)))
	tree := func(t *testing.T, f *fixture) []string {
		out := testutil.Tree(t, f.bpffs, f.stateDir)
		for i := range out {
			out[i] = countersPin.ReplaceAllString(out[i], "/<counters>")
		}
		slices.Sort(out)
		return out
	}
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		for _, name := range initial {
			add(t, r, program(t, testprogs.Noop, name))
		}
		// One more change: the generation before the running one counted
		// in the same map, as after the change below.
		if _, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs[0].Priority++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		baseline := tree(t, f)

		for _, step := range dispatcher.CrashPoints {
			t.Run(step, func(t *testing.T) {
				job, _ := json.Marshal(crashJob{Step: step, Iface: f.iface(), Options: *f.opts(), Mech: mech, Added: added})
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
				if !slices.Equal(got, initial) && !slices.Equal(got, both) {
					t.Errorf("after a crash at %s the chain is %v, want the old (%v) or the new (%v)", step, got, initial, both)
				}
				if id := runningID(t, f); id != st.DispatcherID {
					t.Errorf("after a crash at %s status says dispatcher %d, the kernel runs %d", step, st.DispatcherID, id)
				}
				if v := runDispatcher(t, r, udpTo(9)); v != dispatcher.Pass {
					t.Errorf("after a crash at %s the dispatcher returns %s", step, v)
				}

				// The next change cleans up.
				if _, err := r.Update(func(s *dispatcher.Spec) error {
					for _, name := range added {
						if i := s.Programs.Index(name); i >= 0 {
							s.Programs = append(s.Programs[:i], s.Programs[i+1:]...)
						}
					}
					s.Programs[0].Priority++ // a change, whatever the crash left
					return nil
				}); err != nil {
					t.Fatalf("the change after a crash at %s: %v", step, err)
				}
				got = names(t, status(t, r))
				slices.Sort(got)
				if got := strings.Join(got, ","); got != strings.Join(initial, ",") {
					t.Errorf("after the next change the chain is %q, want %v", got, initial)
				}
				if after := tree(t, f); !slices.Equal(after, baseline) {
					t.Errorf("after a crash at %s and the next change, pins and state files differ from before: extra %v, missing %v (%d entries, before %d)", step, testutil.Missing(after, baseline), testutil.Missing(baseline, after), len(after), len(baseline))
				}
			})
		}
	})
}
