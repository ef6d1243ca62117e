package dispatcher_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestStateSurvivesProcess builds a chain, drops every handle, and reads
// it back from the pins alone: in this process with a fresh Open, and in
// another process with `xdpchain status --json`.
func TestStateSurvivesProcess(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		want := status(t, r)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}

		r2, err := dispatcher.Open(f.iface(), &dispatcher.Options{NetNS: f.recv.Name, BPFFS: f.bpffs, StateDir: f.stateDir})
		if err != nil {
			t.Fatalf("fresh Open: %v", err)
		}
		defer r2.Close()
		got := status(t, r2)
		if got.DispatcherID != want.DispatcherID || got.LinkID != want.LinkID || got.Mechanism != mech {
			t.Errorf("fresh Open sees %+v, want %+v", got, want)
		}
		spec, err := r2.Spec()
		if err != nil {
			t.Fatal(err)
		}
		if len(spec.Programs) != 2 || spec.Programs[0].Name != "dropport" || spec.Programs[1].Name != "counter" {
			t.Fatalf("Spec after reopening: %s", chainNames(spec.Programs))
		}
		if !bytes.Equal(spec.Programs[0].Object, testprogs.Object(testprogs.DropPort)) || spec.Programs[0].Priority != testprogs.DropPortPriority {
			t.Errorf("dropport read back with priority %d and a %d-byte object", spec.Programs[0].Priority, len(spec.Programs[0].Object))
		}
		f.expectServing(t)

		// Another process.
		out, errOut, code := runBin(t, "status", "--json", "--bpffs", f.bpffs, "--state-dir", f.stateDir)
		if code != 0 {
			t.Fatalf("xdpchain status: exit %d: %s", code, errOut)
		}
		var doc struct {
			Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if len(doc.Interfaces) != 1 {
			t.Fatalf("status --json lists %d interfaces:\n%s", len(doc.Interfaces), out)
		}
		other := doc.Interfaces[0]
		if other.DispatcherID != want.DispatcherID || other.Name != f.iface() || fmt.Sprint(names(t, &other)) != "[dropport counter]" {
			t.Errorf("another process sees %+v", other)
		}
		if other.Programs[0].Stats.Drop < 10 {
			t.Errorf("another process sees dropport's drops as %d, want >= 10", other.Programs[0].Stats.Drop)
		}
	})
}

// TestMapStateSurvivesGenerations changes the counter program's maps from
// user space and swaps generations around it: the same maps keep serving,
// so what was written stays and keeps counting.
func TestMapStateSurvivesGenerations(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		add(t, r, program(t, testprogs.Counter, "counter"))
		f.expectUDP(t, false, passPort, 10, true)
		if got := counterPackets(t, r, "counter"); got < 10 {
			t.Fatalf(".bss packets = %d after 10 datagrams", got)
		}

		// Seed the maps with values no packet could produce: hits to a
		// million, .bss packets to two million, .data step to 1000.
		const hitsBase, packetsBase, step = 1_000_000, 2_000_000, 1000
		readPinned(t, r, "counter", "hits", func(m *ebpf.Map) error { return m.Put(uint32(0), uint64(hitsBase)) })
		spec, err := testprogs.Spec(testprogs.Counter)
		if err != nil {
			t.Fatal(err)
		}
		setVar := func(section, name string, v uint64) {
			vs := spec.Variables[name]
			readPinned(t, r, "counter", section, func(m *ebpf.Map) error {
				var b []byte
				if err := m.Lookup(uint32(0), &b); err != nil {
					return err
				}
				binaryPut(b[vs.Offset:], v)
				return m.Put(uint32(0), b)
			})
		}
		// Step first: a stray packet (IPv6 router solicitation, MLD)
		// counted between the two writes then adds a whole step, and the
		// .bss write overwrites what came before it.
		setVar(".data", "step", step)
		setVar(".bss", "packets", packetsBase)
		gen := status(t, r).DispatcherID

		check := func(stage string, sent uint64) {
			t.Helper()
			hits, packets := counterHits(t, r, "counter"), counterPackets(t, r, "counter")
			if hits < hitsBase+sent || hits > hitsBase+sent+50 {
				t.Errorf("%s: hits = %d, want %d + %d (+ a few stray packets)", stage, hits, hitsBase, sent)
			}
			if packets < packetsBase+step*sent || (packets-packetsBase)%step != 0 {
				t.Errorf("%s: .bss packets = %d, want %d + %d*%d (.data step kept)", stage, packets, packetsBase, step, sent)
			}
		}
		f.expectUDP(t, false, passPort, 5, true)
		check("same generation", 5)

		add(t, r, program(t, testprogs.Noop, "other"))
		if id := status(t, r).DispatcherID; id == gen {
			t.Fatalf("adding a program did not build a new generation")
		}
		check("after adding another program", 5)
		f.expectUDP(t, false, passPort, 5, true)
		check("traffic after adding another program", 10)

		remove(t, r, "other")
		f.expectUDP(t, true, passPort, 5, true)
		check("traffic after removing it", 15)

		// A fresh Open in this process uses the same maps too.
		r2, err := dispatcher.Open(f.iface(), f.opts())
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		add(t, r2, program(t, testprogs.Noop, "third"))
		f.expectUDP(t, false, passPort, 5, true)
		check("traffic after a change by another Root", 20)
	})
}

func binaryPut(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i)) // little endian, as bpfel objects are
	}
}

// TestCountersFollowProgram checks that a program keeps its counters when
// others are added, removed or reordered, and that a program removed and
// added again starts from zero. Drops are counted exactly: only the first
// dropport in the chain sees datagrams to the drop port.
func TestCountersFollowProgram(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		d1 := program(t, testprogs.DropPort, "d1")
		d2 := program(t, testprogs.DropPort, "d2")
		d2.Priority = 20
		add(t, r, d1, d2, program(t, testprogs.Noop, "tail"))

		drops := func(stage string, want1, want2 uint64) {
			t.Helper()
			s := statsByName(t, r)
			if s["d1"].Drop != want1 || s["d2"].Drop != want2 {
				t.Errorf("%s: d1 dropped %d, d2 %d; want %d and %d", stage, s["d1"].Drop, s["d2"].Drop, want1, want2)
			}
		}
		f.expectUDP(t, false, dropPort, 7, false)
		drops("d1 first", 7, 0)

		head := program(t, testprogs.Noop, "head")
		head.Priority = 1
		add(t, r, head)
		if got := fmt.Sprint(names(t, status(t, r))); got != "[head d1 d2 tail]" {
			t.Fatalf("chain %s", got)
		}
		drops("after adding head (slots shifted)", 7, 0)

		_, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs[s.Programs.Index("d2")].Priority = 5
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(t, status(t, r))); got != "[head d2 d1 tail]" {
			t.Fatalf("chain after reordering %s", got)
		}
		drops("after reordering", 7, 0)
		f.expectUDP(t, true, dropPort, 4, false)
		drops("d2 first", 7, 4)

		remove(t, r, "head", "tail")
		drops("after removing head and tail", 7, 4)

		remove(t, r, "d1")
		add(t, r, d1)
		drops("d1 removed and added again", 0, 4)
	})
}

// TestCrashLeftovers plants what a process that crashed in the middle of
// an apply leaves behind and checks that the next Open cleans it up or
// finishes it.
func TestCrashLeftovers(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		st := status(t, r)
		r.Close()
		stateFile := filepath.Join(stateDirOf(f, st), "state.json")
		pending := stateFile + ".pending"
		committed, err := os.ReadFile(stateFile)
		if err != nil {
			t.Fatal(err)
		}
		// reopen opens the root, which changes nothing (status deletes
		// nothing), then makes a change that changes no program: that
		// cleans up under the lock.
		reopen := func(t *testing.T) *dispatcher.Root {
			t.Helper()
			before := treeOf(t, f.bpffs, f.stateDir)
			r, err := dispatcher.Open(f.iface(), f.opts())
			if err != nil {
				t.Fatalf("Open over leftovers: %v", err)
			}
			if _, err := dispatcher.List(f.opts()); err != nil {
				t.Fatalf("List over leftovers: %v", err)
			}
			if after := treeOf(t, f.bpffs, f.stateDir); !reflect.DeepEqual(before, after) {
				t.Errorf("Open and List changed the pins or state:\nbefore %v\nafter  %v", before, after)
			}
			if _, err := r.Update(func(*dispatcher.Spec) error { return nil }); err != nil {
				t.Fatalf("a change over leftovers: %v", err)
			}
			return r
		}
		pendingGone := func(t *testing.T, stage string) {
			t.Helper()
			if _, err := os.Stat(pending); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s still there (%v)", stage, pending, err)
			}
		}
		withState := func(edit func(map[string]any)) []byte {
			var m map[string]any
			if err := json.Unmarshal(committed, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}

		t.Run("garbage pending state", func(t *testing.T) {
			if err := os.WriteFile(pending, []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := reopen(t)
			defer r.Close()
			pendingGone(t, "garbage")
			if got := status(t, r); got.DispatcherID != st.DispatcherID || got.Generation != st.Generation || len(got.Programs) != 2 {
				t.Errorf("after a garbage pending state: %+v", got)
			}
		})
		t.Run("pending state of a generation never swapped in", func(t *testing.T) {
			b := withState(func(m map[string]any) {
				m["dispatcher_id"] = st.DispatcherID + 1000
				m["generation"] = 77
				m["programs"] = []any{}
			})
			if err := os.WriteFile(pending, b, 0o600); err != nil {
				t.Fatal(err)
			}
			r := reopen(t)
			defer r.Close()
			pendingGone(t, "unswapped")
			if got := status(t, r); got.Generation != st.Generation || len(got.Programs) != 2 {
				t.Errorf("an unswapped pending state was committed: %+v", got)
			}
			f.expectServing(t)
		})
		t.Run("pending state of the running generation", func(t *testing.T) {
			b := withState(func(m map[string]any) { m["generation"] = 99 })
			if err := os.WriteFile(pending, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// Before the next change commits it, every view shows the chain
			// the kernel runs.
			all, err := dispatcher.List(f.opts())
			if err != nil || len(all) != 1 || all[0].Generation != 99 {
				t.Errorf("List before the commit: %+v, %v; want generation 99", all, err)
			}
			if r, err := dispatcher.Open(f.iface(), f.opts()); err != nil {
				t.Error(err)
			} else {
				if got := status(t, r); got.Generation != 99 {
					t.Errorf("Status before the commit: generation %d, want 99", got.Generation)
				}
				r.Close()
			}
			r := reopen(t)
			defer r.Close()
			pendingGone(t, "swapped")
			if got := status(t, r); got.Generation != 99 || got.DispatcherID != st.DispatcherID {
				t.Errorf("the running generation's pending state was not committed: generation %d", got.Generation)
			}
		})
		t.Run("temporary files of a write killed midway", func(t *testing.T) {
			// What a kill inside the atomic write leaves: its temporary
			// files, named as writeFileAtomic names them.
			var temps []string
			for _, c := range []struct{ dir, pattern string }{
				{stateDirOf(f, st), ".state.json.pending.tmp*"},
				{stateDirOf(f, st), ".state.json.tmp*"},
				{filepath.Join(stateDirOf(f, st), "objects"), "." + strings.Repeat("ab", 32) + ".o.tmp*"},
			} {
				tmp, err := os.CreateTemp(c.dir, c.pattern)
				if err != nil {
					t.Fatal(err)
				}
				tmp.WriteString(`{"version": 1, "progr`)
				tmp.Close()
				temps = append(temps, tmp.Name())
			}
			r := reopen(t)
			defer r.Close()
			for _, p := range temps {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("temporary file %s not cleaned up by the next change (%v)", p, err)
				}
			}
			if _, err := os.Stat(stateFile); err != nil {
				t.Errorf("the clean-up took the state: %v", err)
			}
			if got := status(t, r); len(got.Programs) != 2 || got.DispatcherID != st.DispatcherID {
				t.Errorf("after the clean-up: %+v", got)
			}
		})
		t.Run("orphaned pins and objects", func(t *testing.T) {
			ghostDir := filepath.Join(pinDirOf(f, st), "maps", "ghost")
			if err := os.MkdirAll(ghostDir, 0o700); err != nil {
				t.Fatal(err)
			}
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Pin(filepath.Join(ghostDir, "hits"))
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			ghostObj := filepath.Join(stateDirOf(f, st), "objects", "0000000000000000000000000000000000000000000000000000000000000000.o")
			if err := os.WriteFile(ghostObj, []byte("left over"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := reopen(t)
			defer r.Close()
			for _, p := range []string{ghostDir, ghostObj} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("leftover %s not cleaned up (%v)", p, err)
				}
			}
			if got := status(t, r); len(got.Programs) != 2 {
				t.Errorf("clean-up removed programs: %v", names(t, got))
			}
			f.expectServing(t)
		})
	})
}

// TestStaleRootCleanedUp deletes the interface under a root: the root is
// then stale, is no longer listed, and its pins and state are removed.
func TestStaleRootCleanedUp(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	extra := testutil.NewVethPair(t, f.recv, f.recv, nil)
	r, err := dispatcher.Attach(extra.A.Name, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	add(t, r, program(t, testprogs.Counter, "counter"))
	st := status(t, r)
	r.Close()

	testutil.InNetNS(t, f.recv, func() error {
		l, err := netlink.LinkByName(extra.A.Name)
		if err != nil {
			return err
		}
		return netlink.LinkDel(l)
	})

	all, err := dispatcher.List(&dispatcher.Options{BPFFS: f.bpffs, StateDir: f.stateDir})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Ifindex == st.Ifindex {
			t.Errorf("List still shows the root of deleted %s: %+v", extra.A.Name, s)
		}
	}
	if _, err := dispatcher.Open(extra.A.Name, f.opts()); err == nil {
		t.Error("Open of a deleted interface succeeded")
	}
	// Looking changes nothing; the next Attach (a change) removes it.
	for _, dir := range []string{pinDirOf(f, st), stateDirOf(f, st)} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("stale root of deleted %s: %s removed by List or Open (%v)", extra.A.Name, dir, err)
		}
	}
	f.attach(t)
	for _, dir := range []string{pinDirOf(f, st), stateDirOf(f, st)} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale root of deleted %s: %s still there after an Attach (%v)", extra.A.Name, dir, err)
		}
	}
}

// treeOf lists every file and directory under dirs (with its size), to
// compare before and after something that must change nothing.
func treeOf(t *testing.T, dirs ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			out[path] = fi.Size()
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", d, err)
		}
	}
	return out
}

// TestMechanismSwitch moves a running chain from linked to freplace and
// back: traffic keeps being filtered, and the programs keep their maps and
// counters across the switch.
func TestMechanismSwitch(t *testing.T) {
	vmtest.LogWhere(t)
	vmtest.RequireFreplace(t)
	f := newFixture(t, dispatcher.Linked)
	r := baseline(t, f)
	f.expectUDP(t, false, dropPort, 5, false)
	for i, mech := range []dispatcher.Mechanism{dispatcher.Freplace, dispatcher.Linked} {
		_, err := r.Update(func(s *dispatcher.Spec) error {
			s.Mechanism = mech
			return nil
		})
		if err != nil {
			t.Fatalf("switching to %s: %v", mech, err)
		}
		st := status(t, r)
		if st.Mechanism != mech || fmt.Sprint(names(t, st)) != "[dropport counter]" {
			t.Fatalf("after switching to %s: %s with %v", mech, st.Mechanism, names(t, st))
		}
		f.expectUDP(t, false, dropPort, 5, false)
		f.expectUDP(t, false, passPort, 5, true)
		if got, want := statsByName(t, r)["dropport"].Drop, uint64(5*(i+2)); got != want {
			t.Errorf("after switching to %s dropport counted %d drops, want %d", mech, got, want)
		}
		if got := counterPackets(t, r, "counter"); got < uint64(5*(i+1)) {
			t.Errorf("after switching to %s counter's .bss says %d packets", mech, got)
		}
	}
	// Back on linked, nothing of freplace is pinned: its extension programs
	// and links would keep the old dispatchers alive.
	for path := range treeOf(t, f.bpffs) {
		if base := filepath.Base(filepath.Dir(path)); base == "progs" || base == "links" {
			t.Errorf("after switching back to linked %s is still pinned", path)
		}
	}
}
