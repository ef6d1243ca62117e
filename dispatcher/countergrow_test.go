package dispatcher_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// allCounterRows is the size in bytes of one CPU's counters when the map
// has a row for every counter (bpf/dispatcher.h: XDPCHAIN_MAX_COUNTERS + 1
// rows of 8 columns of 8 bytes), what every root had before the map was
// sized by the chain.
const allCounterRows = (2*dispatcher.MaxPrograms + 1) * 8 * 8

// countersMap returns what bpftool says of the counters map the running
// dispatcher of r uses: its id and value_size × max_entries.
func countersMap(t *testing.T, r *dispatcher.Root) (id, size int) {
	t.Helper()
	st, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bpftool", "-j", "prog", "show", "id", fmt.Sprint(st.DispatcherID)).Output()
	if err != nil {
		t.Fatalf("bpftool prog show id %d: %v", st.DispatcherID, err)
	}
	var prog struct {
		MapIDs []int `json:"map_ids"`
	}
	if err := json.Unmarshal(out, &prog); err != nil {
		t.Fatalf("bpftool prog show: %v: %s", err, out)
	}
	for _, mid := range prog.MapIDs {
		out, err := exec.Command("bpftool", "-j", "map", "show", "id", fmt.Sprint(mid)).Output()
		if err != nil {
			t.Fatalf("bpftool map show id %d: %v", mid, err)
		}
		var m struct {
			Name       string `json:"name"`
			ValueSize  int    `json:"bytes_value"`
			MaxEntries int    `json:"max_entries"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("bpftool map show: %v: %s", err, out)
		}
		if m.Name == "xdpchain_stats" {
			return mid, m.ValueSize * m.MaxEntries
		}
	}
	t.Fatalf("dispatcher %d uses no xdpchain_stats map (maps %v)", st.DispatcherID, prog.MapIDs)
	return 0, 0
}

// TestCounterMapGrows: a root's counters map has rows for what its chains
// use (bpftool: a 2-program chain's is an eighth of a map of all rows, or
// less); a chain that outgrows it gets a larger one in a new generation,
// and the counts stay exact across that change and the next (which folds
// the generation that counted in the old map): every program's count
// follows it, the fall-through too.
func TestCounterMapGrows(t *testing.T) {
	vmtest.LogWhere(t)
	pkt := testutil.UDPPacket(netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:2000"), []byte("grow"))
	r := newSemanticsRoot(t, dispatcher.Inline)
	chain := func(names ...string) dispatcher.Spec {
		spec := dispatcher.Spec{Fallthrough: dispatcher.Pass, Mechanism: dispatcher.Inline}
		for i, n := range names {
			spec.Programs = append(spec.Programs, prog{name: n, verdict: 2, priority: i, proceed: onPass}.program(t))
		}
		return spec
	}
	want := map[string]uint64{}
	var wantFT uint64
	ftBefore := uint64(0)
	if st, err := r.Status(); err == nil {
		ftBefore = st.FallthroughPackets
	} else {
		t.Fatal(err)
	}
	run := func(step string, n int, names ...string) {
		t.Helper()
		for range n {
			if got := runDispatcher(t, r, pkt); got != dispatcher.Pass {
				t.Fatalf("%s: verdict %s, want pass", step, got)
			}
			for _, name := range names {
				want[name]++
			}
			wantFT++
		}
		st, err := r.Status()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Programs) != len(names) {
			t.Fatalf("%s: %d programs, want %d", step, len(st.Programs), len(names))
		}
		for _, p := range st.Programs {
			if p.Stats != (dispatcher.Stats{Pass: want[p.Name]}) {
				t.Errorf("%s: %s counted %+v, want pass %d", step, p.Name, p.Stats, want[p.Name])
			}
		}
		if got := st.FallthroughPackets - ftBefore; got != wantFT {
			t.Errorf("%s: fall-through %d, want %d", step, got, wantFT)
		}
	}

	two := []string{"a", "b"}
	if err := r.Apply(chain(two...)); err != nil {
		t.Fatal(err)
	}
	run("2 programs", 3, two...)
	small, size := countersMap(t, r)
	if size*8 > allCounterRows {
		t.Errorf("a 2-program chain's counters map holds %d bytes per CPU, want at most an eighth of %d", size, allCounterRows)
	}
	t.Logf("2 programs: counters map %d, %d bytes per CPU (all rows: %d)", small, size, allCounterRows)

	ten := []string{"b", "c", "d", "e", "f", "g", "h", "i", "j", "a"}
	if err := r.Apply(chain(ten...)); err != nil {
		t.Fatal(err)
	}
	run("grown to 10 programs", 5, ten...)
	grown, gsize := countersMap(t, r)
	if grown == small || gsize <= size || gsize >= allCounterRows {
		t.Errorf("10 programs: counters map %d of %d bytes per CPU, want a new one larger than %d (map %d) and smaller than %d", grown, gsize, size, small, allCounterRows)
	}
	t.Logf("10 programs: counters map %d, %d bytes per CPU", grown, gsize)

	// The next change folds what the 2-program generation counted in the
	// old map; then a smaller chain keeps the map.
	if err := r.Apply(chain(ten[1:]...)); err != nil {
		t.Fatal(err)
	}
	run("9 programs", 2, ten[1:]...)
	if err := r.Apply(chain("b", "c")); err != nil {
		t.Fatal(err)
	}
	delete(want, "b") // removed in the step before: starts from zero
	run("back to 2 programs", 4, "b", "c")
	if id, _ := countersMap(t, r); id != grown {
		t.Errorf("a smaller chain: counters map %d, want the one it had (%d)", id, grown)
	}
}
