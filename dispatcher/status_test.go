package dispatcher

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestListEmpty(t *testing.T) {
	vmtest.LogWhere(t)
	bpffs := testutil.PrivateBPFFS(t)
	opts := &Options{BPFFS: bpffs, StateDir: t.TempDir()}
	got, err := List(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("List on an empty bpffs: %#v, want an empty, non-nil slice", got)
	}
	// Entries that are not roots are skipped, not errors.
	for _, d := range []string{"xdpchain/notanumber/1", "xdpchain/12/notanumber", "xdpchain/12/3"} {
		if err := os.MkdirAll(filepath.Join(bpffs, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	got, err = List(opts)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("List with non-root entries: %#v, %v", got, err)
	}
}

// TestStatusCounts fills a real root's counters and state by hand and
// checks what Status makes of them: row minus base per program, row 0 as
// fall-through, allowed sets only when restricted.
func TestStatusCounts(t *testing.T) {
	vmtest.LogWhere(t)
	r, opts := attachLo(t)
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	per := make([]dispatcherXdpchainCounters, cpus)
	per[0].Packets[0][2] = 5       // fall-through pass
	per[cpus-1].Packets[0][1] += 2 // fall-through drop
	per[0].Packets[3][1] = 10      // program a: drop
	per[cpus-1].Packets[3][6] += 4 // program a: denied
	per[0].Packets[7][2] = 100     // program b: pass, 40 before it was assigned
	if err := writeCounters(r.stats, per); err != nil {
		t.Fatal(err)
	}
	// Object names are sha256s (the state reader checks them).
	objA, objB := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
	st := *r.st
	st.Generation = 2
	st.Programs = []programState{
		{programRecord: programRecord{Name: "a", Priority: 1, ProceedOn: NewVerdictSet(Pass), Allowed: NewVerdictSet(Pass, Drop), ProgramName: "fa", Owner: "me", Version: "v1"}, Object: objA, Counter: 3},
		{programRecord: programRecord{Name: "b", Priority: 2, ProceedOn: NewVerdictSet(Pass, TX), Shadow: true, ProgramName: "fb"}, Object: objB, Counter: 7, Base: Stats{Pass: 40}},
	}
	if err := writeState(r.pins.stateFile(), &st); err != nil {
		t.Fatal(err)
	}

	got, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.link.Info()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "lo" || got.Ifindex != 1 || got.NetNS != opts.NetNS || got.NetNSInode != r.ns.inode ||
		got.Mode != ModeSKB || got.Mechanism != Linked || got.Generation != 2 || got.Fallthrough != "pass" ||
		got.LinkID != uint32(info.ID) || got.DispatcherID != uint32(info.Program) {
		t.Errorf("interface status %+v", got)
	}
	if got.FallthroughPackets != 7 {
		t.Errorf("fall-through packets %d, want 7", got.FallthroughPackets)
	}
	want := []ProgramStatus{
		{Slot: 0, Name: "a", Priority: 1, ProceedOn: []string{"pass"}, Allowed: []string{"drop", "pass"}, Program: "fa",
			Owner: "me", Version: "v1", Object: objA, Stats: Stats{Drop: 10, Denied: 4}},
		{Slot: 1, Name: "b", Priority: 2, ProceedOn: []string{"pass", "tx"}, Shadow: true, Program: "fb", Object: objB, Stats: Stats{Pass: 60}},
	}
	if !reflect.DeepEqual(got.Programs, want) {
		t.Errorf("programs\n%+v\nwant\n%+v", got.Programs, want)
	}

	all, err := List(&Options{BPFFS: opts.BPFFS, StateDir: opts.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || !reflect.DeepEqual(all[0], *got) {
		t.Errorf("List: %+v, want the one status %+v", all, got)
	}
}
