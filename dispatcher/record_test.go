package dispatcher

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestStateOfV030Loads reads a state.json that v0.3.0 wrote (made by that
// release's writeState; deploy/releases.txt names the release): every
// program's record, counters and placement come back as they were.
func TestStateOfV030Loads(t *testing.T) {
	st, err := readState(filepath.Join("testdata", "state", "v0.3.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || st.Interface != "veth0" || st.NetNS != "blue" || st.Mode != ModeNative || st.Mechanism != Inline ||
		st.Fallthrough != Drop || st.revision() != 4 || st.DispatcherID != 321 || len(st.Programs) != 2 {
		t.Fatalf("state: %+v", st)
	}
	want := []Program{
		{Name: "filter", Priority: 10, ProceedOn: NewVerdictSet(Pass), Allowed: NewVerdictSet(Pass, Drop), Frags: true,
			Owner: "user:0", Version: "1.2", ProgramName: "xdp_filter"},
		{Name: "shadowed", Priority: 20, ProceedOn: NewVerdictSet(Pass, TX), Shadow: true, Owner: "plugin:bl",
			Unprivileged: true, ProgramName: "xdp_s"},
	}
	for i, ps := range st.Programs {
		if got := ps.program(); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("program %d: %+v, want %+v", i, got, want[i])
		}
	}
	a, b := st.Programs[0], st.Programs[1]
	if a.Object != strings.Repeat("a", 64) || a.Counter != 3 || a.Base != (Stats{Pass: 5, Drop: 2}) ||
		!reflect.DeepEqual(a.Stack, []int{48, 16}) || a.Placement != PlacementInline {
		t.Errorf("filter's record: %+v", a)
	}
	if b.Counter != 9 || b.Placement != PlacementCall || b.CallReason != "its entry function tail calls" {
		t.Errorf("shadowed's record: %+v", b)
	}
}

// TestRecordIsItsOwnFormat: the stored form of a program is the record's,
// with the JSON names every release wrote, and a Program round-trips
// through it (all but its object, stored apart).
func TestRecordIsItsOwnFormat(t *testing.T) {
	p := Program{Name: "n", Priority: -3, ProceedOn: NewVerdictSet(Pass, Drop), Allowed: NewVerdictSet(Pass), Shadow: true,
		Frags: true, Owner: "config:n", Version: "v", Unprivileged: true, ProgramName: "f"}
	if back := recordOf(p).program(); !reflect.DeepEqual(back, p) {
		t.Errorf("round trip: %+v, want %+v", back, p)
	}
	b, err := json.Marshal(recordOf(p))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"n","priority":-3,"proceed_on":6,"allowed":4,"shadow":true,"frags":true,"owner":"config:n","version":"v","unprivileged":true,"program":"f"}`
	if string(b) != want {
		t.Errorf("stored form %s, want %s", b, want)
	}
	// Every field of Program but its object has a home in the record: a
	// field added to Program must be added (or left out on purpose) here.
	rt := reflect.TypeOf(programRecord{})
	for f := range reflect.TypeOf(Program{}).Fields() {
		if _, ok := rt.FieldByName(f.Name); !ok && f.Name != "Object" {
			t.Errorf("Program.%s has no field in the stored record", f.Name)
		}
	}
}
