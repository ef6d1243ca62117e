package dispatcher_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestTrafficThroughChain sends UDP over IPv4 and IPv6 and pings through
// a veth pair whose receiving end runs dropport (drops UDP to 9999) then
// counter: the drop port is dropped, the rest arrives, and the counters
// account for it.
func TestTrafficThroughChain(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		st0 := status(t, r)
		if got := names(t, st0); fmt.Sprint(got) != "[dropport counter]" {
			t.Fatalf("slot order %v, want [dropport counter]", got)
		}
		for _, p := range st0.Programs {
			// Linked programs are part of the dispatcher; freplace ones
			// are kernel programs of their own.
			if (p.ProgramID != 0) != (mech == dispatcher.Freplace) {
				t.Errorf("%s has program ID %d with mechanism %s", p.Name, p.ProgramID, mech)
			}
		}
		// The baseline too is taken when no stray packet came between
		// the dispatcher's counters and the program's own map.
		hits0 := counterHits(t, r, "counter")
		for try := 0; try < 10; try++ {
			again := status(t, r)
			if again.Programs[1].Stats == st0.Programs[1].Stats {
				break
			}
			st0, hits0 = again, counterHits(t, r, "counter")
		}

		const nPass, nDrop, nPing = 20, 15, 5
		for _, v6 := range []bool{false, true} {
			f.expectUDP(t, v6, passPort, nPass, true)
			f.expectUDP(t, v6, dropPort, nDrop, false)
		}
		for _, dst := range []netip.Addr{f.pair.B.Addr4(), f.pair.B.Addr6()} {
			if got := testutil.Ping(t, f.send, dst, nPing); got != nPing {
				t.Errorf("ping %s: %d of %d replies", dst, got, nPing)
			}
		}

		// Counters are read until two reads agree: a stray packet (IPv6
		// router solicitation) may be counted between two per-CPU reads.
		// Only what changed since the chain was complete is compared.
		var drop, ctr dispatcher.Stats
		var ft, hits uint64
		for try := 0; ; try++ {
			st := status(t, r)
			drop = sub(st.Programs[0].Stats, st0.Programs[0].Stats)
			ctr = sub(st.Programs[1].Stats, st0.Programs[1].Stats)
			ft = st.FallthroughPackets - st0.FallthroughPackets
			hits = counterHits(t, r, "counter") - hits0
			if drop.Pass == ctr.Pass && ctr.Pass == ft && hits == ctr.Pass || try == 10 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("dropport %+v, counter %+v (own map %d), fall-through %d", drop, ctr, hits, ft)
		if drop.Drop != 2*nDrop {
			t.Errorf("dropport dropped %d packets, sent %d to port %d", drop.Drop, 2*nDrop, dropPort)
		}
		if min := uint64(2*nPass + 2*nPing); drop.Pass < min {
			t.Errorf("dropport passed %d packets, sent at least %d that pass", drop.Pass, min)
		}
		if ctr.Drop != 0 || ctr.Pass != drop.Pass {
			t.Errorf("counter saw %+v, want exactly the %d packets dropport passed, all passed", ctr, drop.Pass)
		}
		if ft != ctr.Pass {
			t.Errorf("fall-through counted %d, want the %d counter passed on", ft, ctr.Pass)
		}
		if hits != ctr.Pass {
			t.Errorf("counter's own map counted %d packets, the dispatcher %d", hits, ctr.Pass)
		}
		for _, s := range []dispatcher.Stats{drop, ctr} {
			if s.Aborted+s.TX+s.Redirect+s.Invalid+s.Denied != 0 {
				t.Errorf("unexpected verdicts counted: %+v", s)
			}
		}
	})
}

// counterHits reads element 0 of the "hits" map of a counter program.
func counterHits(t *testing.T, r *dispatcher.Root, name string) uint64 {
	t.Helper()
	var hits uint64
	readPinned(t, r, name, "hits", func(m *ebpf.Map) error { return m.Lookup(uint32(0), &hits) })
	return hits
}

// counterPackets reads the .bss global "packets" of a counter program.
func counterPackets(t *testing.T, r *dispatcher.Root, name string) uint64 {
	t.Helper()
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		t.Fatal(err)
	}
	v := spec.Variables["packets"]
	if v == nil || v.SectionName != ".bss" {
		t.Fatalf("counter object has no .bss variable packets: %v", v)
	}
	var bss []byte
	readPinned(t, r, name, ".bss", func(m *ebpf.Map) error { return m.Lookup(uint32(0), &bss) })
	if int(v.Offset)+8 > len(bss) {
		t.Fatalf(".bss of %s is %d bytes, packets at %d", name, len(bss), v.Offset)
	}
	return binary.NativeEndian.Uint64(bss[v.Offset:])
}

// readPinned opens one of a program's pinned maps by its name in the object.
func readPinned(t *testing.T, r *dispatcher.Root, prog, mapName string, fn func(*ebpf.Map) error) {
	t.Helper()
	maps, err := r.ProgramMaps(prog)
	if err != nil {
		t.Fatalf("maps of %s: %v", prog, err)
	}
	path, ok := maps[mapName]
	if !ok {
		t.Fatalf("program %s has no map %q: %v", prog, mapName, maps)
	}
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer m.Close()
	if err := fn(m); err != nil {
		t.Fatalf("reading %s of %s: %v", mapName, prog, err)
	}
}
