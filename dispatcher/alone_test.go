package dispatcher_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// bpftoolProg is what `bpftool prog show id N --json` says of a program.
type bpftoolProg struct {
	ID     uint32   `json:"id"`
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	MapIDs []uint32 `json:"map_ids"`
}

// showProg runs `bpftool prog show id N --json`.
func showProg(t *testing.T, id uint32) bpftoolProg {
	t.Helper()
	bin, err := exec.LookPath("bpftool")
	if err != nil {
		t.Fatalf("bpftool is needed to check what the ecosystem's tools see: %v", err)
	}
	out, err := exec.Command(bin, "prog", "show", "id", itoa(id), "--json").Output()
	if err != nil {
		t.Fatalf("bpftool prog show id %d: %v", id, err)
	}
	var p bpftoolProg
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("bpftool prog show id %d --json: %v\n%s", id, err, out)
	}
	xl, err := exec.Command(bin, "prog", "dump", "xlated", "id", itoa(id)).CombinedOutput()
	if err != nil || len(xl) == 0 {
		t.Fatalf("bpftool prog dump xlated id %d: %v\n%s", id, err, xl)
	}
	return p
}

func itoa(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// chainMapIDs are the kernel IDs of the maps the chain of r uses for
// program name (its pinned maps).
func chainMapIDs(t *testing.T, r *dispatcher.Root, name string) []uint32 {
	t.Helper()
	pins, err := r.ProgramMaps(name)
	if err != nil {
		t.Fatal(err)
	}
	ids := []uint32{}
	for _, path := range pins {
		m, err := ebpf.LoadPinnedMap(path, nil)
		if err != nil {
			t.Fatalf("map of %s: %v", name, err)
		}
		info, err := m.Info()
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		ids = append(ids, uint32(id))
	}
	slices.Sort(ids)
	return ids
}

// aloneIDs maps each program of a status to its alone_id.
func aloneIDs(t *testing.T, st *dispatcher.InterfaceStatus) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for _, p := range st.Programs {
		if p.AloneID == 0 {
			t.Errorf("%s: program %s has no alone_id", st.Name, p.Name)
		}
		out[p.Name] = p.AloneID
	}
	return out
}

// loaded reports whether the kernel still has program id.
func loaded(id uint32) bool {
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return false
	}
	p.Close()
	return true
}

// waitUnloaded waits for the kernel to free program id (it does so after
// an RCU grace period once nothing holds it).
func waitUnloaded(t *testing.T, id uint32, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); loaded(id); {
		if time.Now().After(deadline) {
			t.Errorf("%s: program %d is still loaded", what, id)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAloneProgramsKept checks the programs verified alone that a chain
// keeps: status gives each program's ID, bpftool shows an XDP program that
// uses exactly the maps the chain uses for it, two interfaces running the
// same program (no maps of its own: the same kernel program) share one,
// also when another process (the CLI) loads it on a third (the program is
// not loaded again), a program with maps per interface has one per
// interface, and the kept
// programs go when no chain runs them any more: replaced, detached.
func TestAloneProgramsKept(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		second := testutil.NewVethPair(t, f.send, f.recv, nil)
		r1 := f.attach(t)
		r2, err := dispatcher.Attach(second.B.Name, f.opts())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			r2.Close()
			detachIfAttached(t, second.B.Name, f.opts())
		})
		for _, r := range []*dispatcher.Root{r1, r2} {
			add(t, r, program(t, testprogs.Counter, "counter"), program(t, testprogs.Noop, "noop"))
		}
		ids1, ids2 := aloneIDs(t, status(t, r1)), aloneIDs(t, status(t, r2))
		for _, c := range []struct {
			r   *dispatcher.Root
			ids map[string]uint32
		}{{r1, ids1}, {r2, ids2}} {
			for name, id := range c.ids {
				p := showProg(t, id)
				if p.Type != "xdp" {
					t.Errorf("program %s verified alone (%d) is of type %q, want xdp", name, id, p.Type)
				}
				got := slices.Clone(p.MapIDs)
				slices.Sort(got)
				if got == nil {
					got = []uint32{}
				}
				if want := chainMapIDs(t, c.r, name); !slices.Equal(got, want) {
					t.Errorf("program %s verified alone (%d) uses maps %v, the chain's copy %v", name, id, got, want)
				}
			}
		}
		if ids1["noop"] != ids2["noop"] {
			t.Errorf("noop runs on two interfaces as programs %d and %d, want one kernel program", ids1["noop"], ids2["noop"])
		}
		if ids1["counter"] == ids2["counter"] {
			t.Errorf("counter, with maps of its own on each interface, is one program %d on both", ids1["counter"])
		}
		// Another process (the CLI) finds noop kept and runs the same
		// program on a third interface.
		third := testutil.NewVethPair(t, f.send, f.recv, nil)
		obj := filepath.Join(t.TempDir(), "noop.o")
		if err := os.WriteFile(obj, testprogs.Object(testprogs.Noop), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := runBin(t, "--bpffs", f.bpffs, "--state-dir", f.stateDir, "load", "--netns", f.recv.Name, "--mechanism", string(mech), "--name", "noop", third.B.Name, obj); code != 0 {
			t.Fatalf("xdpchain load on %s: exit %d\n%s%s", third.B.Name, code, out, errOut)
		}
		st3, err := dispatcher.StatusOf(third.B.Name, f.opts())
		if err != nil {
			t.Fatal(err)
		}
		if got := aloneIDs(t, st3)["noop"]; got != ids1["noop"] {
			t.Errorf("noop loaded by another process on %s is program %d, want the kept %d", third.B.Name, got, ids1["noop"])
		}
		if err := dispatcher.DetachInterface(third.B.Name, f.opts()); err != nil {
			t.Fatal(err)
		}

		programs := filepath.Join(f.bpffs, "xdpchain", "programs")
		if entries, err := os.ReadDir(programs); err != nil || len(entries) != 3 {
			t.Errorf("%s holds %d programs (%v), want 3: noop once, counter per interface", programs, len(entries), err)
		}

		// Replaced: the old program goes, the new one is kept.
		_, err = r1.Update(func(s *dispatcher.Spec) error {
			s.Programs[s.Programs.Index("counter")] = program(t, testprogs.UDP, "counter")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitUnloaded(t, ids1["counter"], "counter replaced on "+f.iface())
		now := aloneIDs(t, status(t, r1))
		if now["counter"] == ids1["counter"] || !loaded(now["counter"]) || now["noop"] != ids1["noop"] {
			t.Errorf("after replacing counter: %v, before %v", now, ids1)
		}

		// One interface detached: what the other runs stays.
		if err := r2.Detach(); err != nil {
			t.Fatal(err)
		}
		waitUnloaded(t, ids2["counter"], "counter of "+second.B.Name+" detached")
		if !loaded(ids1["noop"]) {
			t.Errorf("noop (%d), still run by %s, was unloaded with %s", ids1["noop"], f.iface(), second.B.Name)
		}
		if got := aloneIDs(t, status(t, r1)); got["noop"] != ids1["noop"] {
			t.Errorf("after detaching %s, noop on %s is %d, was %d", second.B.Name, f.iface(), got["noop"], ids1["noop"])
		}

		// Both detached: nothing is kept.
		if err := r1.Detach(); err != nil {
			t.Fatal(err)
		}
		for name, id := range now {
			waitUnloaded(t, id, name+" after detaching both")
		}
		if _, err := os.Stat(programs); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after detaching both, %s is still there (%v)", programs, err)
		}
	})
}
