package dispatcher_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// concurrentLoads is how many loaders race for one interface.
const concurrentLoads = 8

// TestConcurrentCLILoads starts several `xdpchain load` processes at once
// on one interface that has no root yet: one creates the root, and every
// program ends up in the chain.
func TestConcurrentCLILoads(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		bin := testutil.XDPChainBinary(t)
		obj, err := testprogs.WriteFile(t.TempDir(), testprogs.Counter)
		if err != nil {
			t.Fatal(err)
		}
		cmds := make([]*exec.Cmd, concurrentLoads)
		outs := make([]*bytes.Buffer, concurrentLoads)
		for i := range cmds {
			args := append(f.cliArgs(), "load", "--mechanism", string(mech), "--name", fmt.Sprintf("p%d", i), f.iface(), obj)
			cmds[i] = exec.Command(bin, args...)
			outs[i] = &bytes.Buffer{}
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		}
		for i, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatalf("starting loader %d: %v", i, err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Errorf("loader p%d: %v: %s", i, err, outs[i])
			}
		}

		r, err := dispatcher.Open(f.iface(), f.opts())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		st := status(t, r)
		want := []string{}
		for i := range concurrentLoads {
			want = append(want, fmt.Sprintf("p%d", i))
		}
		if got := names(t, st); !slices.Equal(got, want) {
			t.Errorf("chain after %d concurrent loads: %v, want %v", concurrentLoads, got, want)
		}
		if st.Generation < concurrentLoads {
			t.Errorf("generation %d after %d loads: some loads were merged or lost", st.Generation, concurrentLoads)
		}
		f.expectUDP(t, false, passPort, 5, true)
		for _, p := range status(t, r).Programs {
			if p.Stats.Pass < 5 {
				t.Errorf("%s counted %d of 5 datagrams", p.Name, p.Stats.Pass)
			}
		}
	})
}

// TestConcurrentUpdates races Attach+Update from goroutines, each with its
// own Root: the interface lock serializes them and none loses another's
// program.
func TestConcurrentUpdates(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		var wg sync.WaitGroup
		errs := make([]error, concurrentLoads)
		for i := range concurrentLoads {
			p := program(t, testprogs.Noop, fmt.Sprintf("g%d", i))
			wg.Go(func() {
				r, err := dispatcher.Attach(f.iface(), f.opts())
				if err != nil {
					errs[i] = err
					return
				}
				defer r.Close()
				_, errs[i] = r.Update(func(s *dispatcher.Spec) error {
					s.Programs = append(s.Programs, p)
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("goroutine %d: %v", i, err)
			}
		}
		r := f.attach(t)
		if got := names(t, status(t, r)); len(got) != concurrentLoads {
			t.Errorf("chain after %d concurrent updates: %v", concurrentLoads, got)
		}
		f.expectUDP(t, false, passPort, 5, true)
	})
}

// TestUpdatesRacingDetach runs loads while another process detaches the
// root, again and again: a load either attaches a fresh root and lands, or
// fails saying the root was detached while it was loading; never with an
// error about missing pins or a stale root; so does a change through Open.
// Afterwards the interface has either no root or a working one, and after
// the last detach nothing is left in bpffs or the state dir.
func TestUpdatesRacingDetach(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Inline)
	const rounds, loaders = 10, 4
	landed, refused := 0, 0
	for round := range rounds {
		first := f.attach(t)
		var wg sync.WaitGroup
		errs := make([]error, loaders)
		for i := range loaders {
			p := program(t, testprogs.Noop, fmt.Sprintf("r%dg%d", round, i))
			wg.Go(func() {
				r, err := dispatcher.Attach(f.iface(), f.opts())
				if err != nil {
					errs[i] = err
					return
				}
				defer r.Close()
				_, errs[i] = r.Update(func(s *dispatcher.Spec) error {
					s.Programs = append(s.Programs, p)
					return nil
				})
			})
		}
		// Changers of the root in place (Open, as unload does): they find
		// it, or find it detached.
		openErrs := make([]error, loaders)
		for i := range loaders {
			wg.Go(func() {
				r, err := dispatcher.Open(f.iface(), f.opts())
				if err != nil {
					openErrs[i] = err
					return
				}
				defer r.Close()
				_, openErrs[i] = r.Update(func(s *dispatcher.Spec) error { return nil })
			})
		}
		wg.Go(func() {
			if err := first.Detach(); err != nil && !errors.Is(err, dispatcher.ErrNotAttached) {
				t.Errorf("round %d: detach: %v", round, err)
			}
		})
		wg.Wait()
		first.Close()
		for i, err := range openErrs {
			if err != nil && !errors.Is(err, dispatcher.ErrNotAttached) {
				t.Errorf("round %d, changer %d: %v", round, i, err)
			}
		}
		for i, err := range errs {
			switch {
			case err == nil:
				landed++
			case errors.Is(err, dispatcher.ErrNotAttached) && strings.Contains(err.Error(), "detached while loading"):
				refused++
			default:
				t.Errorf("round %d, loader %d: %v", round, i, err)
			}
		}
		// Whatever happened, the interface is consistent: no root, or a
		// root that serves traffic.
		if r, err := dispatcher.Open(f.iface(), f.opts()); err == nil {
			status(t, r)
			f.expectUDP(t, false, passPort, 5, true)
			if err := r.Detach(); err != nil {
				t.Fatal(err)
			}
			r.Close()
		} else if !errors.Is(err, dispatcher.ErrNotAttached) {
			t.Fatalf("round %d: after the race: %v", round, err)
		}
		// After the last detach nothing is left: no pin, no directory
		// (one made by a loser of the race to lock it), no state.
		for _, dir := range []string{filepath.Join(f.bpffs, "xdpchain"), f.stateDir} {
			filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
				if err == nil && path != dir && path != filepath.Join(f.stateDir, "instance") {
					t.Errorf("round %d: %s left after the last detach", round, path)
				}
				return nil
			})
		}
	}
	t.Logf("%d loads landed, %d were refused as detached while loading", landed, refused)
}
