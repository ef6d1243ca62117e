package dispatcher

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("no map ID")
	}
	return id
}

// TestReplacePin swaps a pin for another object's in one rename.
func TestReplacePin(t *testing.T) {
	vmtest.LogWhere(t)
	dir := filepath.Join(testutil.PrivateBPFFS(t), "pins")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pin")
	var ids []ebpf.MapID
	for range 2 {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ids = append(ids, mapID(t, m))
		if len(ids) == 2 {
			// The second round finds a stale temporary pin too.
			stale, err := m.Clone()
			if err != nil {
				t.Fatal(err)
			}
			err = stale.Pin(path + "_new")
			stale.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := replacePin(path, m.Pin); err != nil {
			t.Fatal(err)
		}
		pinned, err := ebpf.LoadPinnedMap(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := mapID(t, pinned)
		pinned.Close()
		if got != ids[len(ids)-1] {
			t.Errorf("pin holds map %d, want %d", got, ids[len(ids)-1])
		}
		if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"pin"}) {
			t.Errorf("bpffs holds %v, want only the pin", names)
		}
	}
	if err := replacePin(filepath.Join(dir, "missing", "pin"), func(string) error { return os.ErrPermission }); !errors.Is(err, os.ErrPermission) {
		t.Errorf("a failing pin: %v", err)
	}
}

func TestRemoveUnlistedAndCleanup(t *testing.T) {
	pd := newPinDir(Options{BPFFS: t.TempDir(), StateDir: t.TempDir()}, 1, 1)
	for _, d := range []string{pd.progsDir(), pd.linksDir()} {
		for _, n := range []string{"a", "b", "c"} {
			if err := os.MkdirAll(filepath.Join(d, n), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeUnlisted(pd.progsDir(), map[string]bool{"b": true})
	if names := dirNames(t, pd.progsDir()); !reflect.DeepEqual(names, []string{"b"}) {
		t.Errorf("after removeUnlisted: %v, want [b]", names)
	}
	removeUnlisted(filepath.Join(pd.bpf, "missing"), nil) // no panic, nothing to do

	m, err := newMechanism(Freplace)
	if err != nil || m.kind() != Freplace {
		t.Fatalf("freplace mechanism: %v, %v", m, err)
	}
	// b is spliced into the root (it uses a PROG_ARRAY): no extension pins.
	m.cleanup(pd, &state{Programs: []programState{{programRecord: programRecord{Name: "c"}}, {programRecord: programRecord{Name: "b"}, Placement: PlacementCall}}})
	if names := dirNames(t, pd.progsDir()); len(names) != 0 {
		t.Errorf("after cleanup progs holds %v, want nothing", names)
	}
	if names := dirNames(t, pd.linksDir()); !reflect.DeepEqual(names, []string{"c"}) {
		t.Errorf("after cleanup links holds %v, want [c]", names)
	}
}

// TestFreplaceBuild attaches the counter program to slot 0 of a dispatcher
// as an extension program where the kernel allows it; where it refuses
// BPF trampolines (this host: EPERM), the build fails naming the program
// and leaves nothing open.
func TestFreplaceBuild(t *testing.T) {
	vmtest.LogWhere(t)
	g := testGeneration(t, true, Program{Name: "c1", Object: testprogs.Object(testprogs.Counter), ProceedOn: DefaultProceedOn})
	probe := probeFreplace()
	m := newFreplaceMechanism()
	g.mech = m
	if err := g.prepareRoot(); err != nil {
		t.Fatal(err)
	}
	prog, err := m.build(g)
	if probe != nil {
		t.Logf("freplace unavailable: %v", probe)
		if vmtest.InVM() && vmtest.FreplaceRequired() {
			t.Fatalf("freplace required in the VM: %v", probe)
		}
		if err == nil {
			prog.Close()
			t.Fatal("build succeeded where the probe fails")
		}
		var pe *ProgramError
		if !errors.As(err, &pe) || pe.Program != "c1" || !errors.Is(err, ErrNotSupported) || strings.Contains(err.Error(), "MEMLOCK") {
			t.Errorf("build: %v, want a ProgramError for c1 wrapping ErrNotSupported (the kernel's reason, no MEMLOCK hint)", err)
		}
		if len(m.ext) != 0 {
			t.Errorf("failed build left %+v", m.ext)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	g.prog = prog
	if ret, _ := testutil.RunXDP(t, prog, make([]byte, 64)); ret != uint32(Pass) {
		t.Errorf("verdict %d, want pass", ret)
	}
	// Counted once, where the packet ended (the fall-through), and
	// derived for the slot as status derives it.
	if got, ft := generationStats(t, g); len(got) != 1 || got[0] != (Stats{Pass: 1}) || ft != 1 {
		t.Errorf("slot counts %+v, fall-through %d; want one pass, one fall-through", got, ft)
	}
	if g.slots[0].programID == 0 {
		t.Error("no program ID for the extension")
	}
	if err := m.commit(g); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(g.pins.progsDir(), "c1"), filepath.Join(g.pins.linksDir(), "c1")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("commit did not pin %s: %v", p, err)
		}
	}
}
