package dispatcher_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// inlineProgram is one program of testdata/inline.c as a chain entry.
func inlineProgram(t *testing.T, object, program, name string, priority int) dispatcher.Program {
	t.Helper()
	p, err := dispatcher.NewProgram(name, testprogs.Object(object), program)
	if err != nil {
		t.Fatalf("describing %s/%s: %v", object, program, err)
	}
	p.Priority = priority
	return p
}

func udpTo(port uint16) []byte {
	return testutil.UDPPacket(netip.MustParseAddrPort("192.0.2.1:1000"), netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port), []byte("inline"))
}

// placements maps program name to placement and call reason.
func placements(t *testing.T, r *dispatcher.Root) map[string]dispatcher.ProgramStatus {
	t.Helper()
	out := map[string]dispatcher.ProgramStatus{}
	for _, p := range status(t, r).Programs {
		out[p.Name] = p
	}
	return out
}

// putU32 writes value at key 0 of a program's pinned map.
func putU32(t *testing.T, r *dispatcher.Root, program, mapName string, value uint32) {
	t.Helper()
	paths, err := r.ProgramMaps(program)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ebpf.LoadPinnedMap(paths[mapName], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Put(uint32(0), value); err != nil {
		t.Fatalf("writing %s of %s: %v", mapName, program, err)
	}
}

// TestInlineRiskyPrograms runs the programs that make rewriting risky —
// static and global subprograms, several exits, a verdict from a map, packet
// invalidating helpers, a tail call, 480 bytes of stack — in one chain, on
// every mechanism, and checks each decides what it should. On the inline
// mechanism every program is inlined except the deep one (with the others'
// subprograms beside it, its stack would exceed the kernel's 512 bytes) and
// the tail-calling one (a tail call must replace only its slot): they are
// called and status says why.
func TestInlineRiskyPrograms(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		r := newSemanticsRoot(t, mech)
		chain := dispatcher.Chain{
			inlineProgram(t, testprogs.Inline, "subprogs", "subprogs", 10),
			inlineProgram(t, testprogs.Inline, "multiexit", "multiexit", 20),
			inlineProgram(t, testprogs.Inline, "mapverdict", "mapverdict", 30),
			program(t, testprogs.Adjust, "adjust"),
			inlineProgram(t, testprogs.Inline, "deep", "deep", 70),
		}
		chain = append(chain, inlineProgram(t, testprogs.Inline, "tailcall", "tailcall", 60))
		if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: chain}); err != nil {
			var pe *dispatcher.ProgramError
			if errors.As(err, &pe) {
				t.Log(tail(pe.VerifierLog, 30))
			}
			t.Fatal(err)
		}
		putU32(t, r, "mapverdict", "verdict", uint32(dispatcher.Pass))
		id := status(t, r).DispatcherID

		cases := []struct {
			port uint16
			want dispatcher.Verdict
			by   string
		}{
			{testprogs.InlinePortSubprog, dispatcher.Drop, "subprogs"},
			{testprogs.InlinePortGlobal, dispatcher.Drop, "subprogs"},
			{testprogs.InlinePortDrop, dispatcher.Drop, "multiexit"},
			{testprogs.InlinePortTx, dispatcher.TX, "multiexit"},
			{9, dispatcher.Pass, ""}, // every program passes: fall-through
		}
		for _, tc := range cases {
			before := statsByName(t, r)
			if got := runDispatcher(t, r, udpTo(tc.port)); got != tc.want {
				t.Errorf("port %d: verdict %s, want %s (by %s)", tc.port, got, tc.want, tc.by)
			}
			after := statsByName(t, r)
			if tc.by != "" {
				if d := sub(after[tc.by], before[tc.by]); d.Total() != 1 || verdictCount(d, tc.want) != 1 {
					t.Errorf("port %d: %s counted %+v, want one %s", tc.port, tc.by, d, tc.want)
				}
			} else {
				for _, p := range chain {
					name := p.Name
					if d := sub(after[name], before[name]); d.Pass != 1 || d.Total() != 1 {
						t.Errorf("fall-through packet: %s counted %+v, want one pass", name, d)
					}
				}
			}
		}

		// A verdict from a map changes without a swap.
		putU32(t, r, "mapverdict", "verdict", uint32(dispatcher.Drop))
		if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Drop {
			t.Errorf("mapverdict set to drop: verdict %s", got)
		}
		putU32(t, r, "mapverdict", "verdict", uint32(dispatcher.Pass))

		testTailCall(t, r)
		if got := status(t, r).DispatcherID; got != id {
			t.Errorf("map and tail-call changes swapped the dispatcher: %d -> %d", id, got)
		}

		// The program's map state survives new generations.
		putU32(t, r, "mapverdict", "verdict", uint32(dispatcher.Drop))
		add(t, r, program(t, testprogs.Noop, "noop"))
		if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Drop {
			t.Errorf("mapverdict set to drop, after a new generation: verdict %s", got)
		}
		putU32(t, r, "mapverdict", "verdict", uint32(dispatcher.Pass))

		placed := placements(t, r)
		for name, p := range placed {
			want := dispatcher.PlacementCall
			switch {
			case mech == dispatcher.Freplace && name == "tailcall":
				// Spliced: an extension is refused its PROG_ARRAY.
			case mech == dispatcher.Freplace:
				want = dispatcher.PlacementFreplace
			case mech == dispatcher.Inline && name != "deep" && name != "tailcall":
				want = dispatcher.PlacementInline
			}
			if p.Placement != want {
				t.Errorf("%s placed %q (%s), want %q", name, p.Placement, p.CallReason, want)
			}
		}
		if mech == dispatcher.Inline {
			if reason := placed["deep"].CallReason; !strings.Contains(reason, "480-byte stack") || !strings.Contains(reason, "512") {
				t.Errorf("deep is called because %q, want its 480-byte stack and the 512-byte limit named", reason)
			}
		}
	})
}

// testTailCall fills the tailcall program's PROG_ARRAY with a program
// returning XDP_TX: the chain is left for it.
func testTailCall(t *testing.T, r *dispatcher.Root) {
	t.Helper()
	tx, err := loadAlone(testprogs.VerdictTx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	paths, err := r.ProgramMaps("tailcall")
	if err != nil {
		t.Fatal(err)
	}
	jumps, err := ebpf.LoadPinnedMap(paths["jumps"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer jumps.Close()
	if err := jumps.Put(uint32(0), tx); err != nil {
		t.Fatalf("filling the tail call's slot: %v", err)
	}
	if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.TX {
		t.Errorf("tail call to a TX program: verdict %s", got)
	}
	if err := jumps.Delete(uint32(0)); err != nil {
		t.Fatal(err)
	}
	if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Pass {
		t.Errorf("tail call slot emptied again: verdict %s", got)
	}
}

// loadAlone loads a test object's program on its own.
func loadAlone(object string) (*ebpf.Program, error) {
	spec, err := testprogs.Spec(object)
	if err != nil {
		return nil, err
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.Programs[testprogs.Program(object)].Clone()
}

// TestInlineStackLimit: a program with 480 bytes of stack is inlined when
// nothing else needs stack below the root's frame; beside a program whose
// subprograms need 64 bytes more, inlining it would exceed the kernel's 512
// bytes, so it is called, and the other program is inlined.
func TestInlineStackLimit(t *testing.T) {
	mechtest.Require(t, dispatcher.Inline)
	r := newSemanticsRoot(t, dispatcher.Inline)
	for _, tc := range []struct {
		other, otherProgram string
		inline              bool
	}{
		{testprogs.Noop, "noop", true},
		{testprogs.Inline, "subprogs", false},
	} {
		chain := dispatcher.Chain{
			inlineProgram(t, testprogs.Inline, "deep", "deep", 50),
			inlineProgram(t, tc.other, tc.otherProgram, "other", 60),
		}
		if err := r.Apply(dispatcher.Spec{Mechanism: dispatcher.Inline, Programs: chain}); err != nil {
			t.Fatalf("beside %s: %v", tc.otherProgram, err)
		}
		if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Pass {
			t.Errorf("beside %s: verdict %s", tc.otherProgram, got)
		}
		placed := placements(t, r)
		if got := placed["deep"].Placement == dispatcher.PlacementInline; got != tc.inline {
			t.Errorf("beside %s: deep placed %q (%s), want inlined = %v", tc.otherProgram, placed["deep"].Placement, placed["deep"].CallReason, tc.inline)
		}
		if placed["other"].Placement != dispatcher.PlacementInline {
			t.Errorf("%s placed %q (%s)", tc.otherProgram, placed["other"].Placement, placed["other"].CallReason)
		}
	}
}

// verdictCount is the count of verdict v in s.
func verdictCount(s dispatcher.Stats, v dispatcher.Verdict) uint64 {
	return [...]uint64{s.Aborted, s.Drop, s.Pass, s.TX, s.Redirect}[v]
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
