package dispatcher_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// hints are devbound's .bss counters.
type hints struct{ seen, hashed, stamped uint64 }

func (h hints) sub(o hints) hints {
	return hints{h.seen - o.seen, h.hashed - o.hashed, h.stamped - o.stamped}
}

// readHints reads devbound's counters out of its .bss map.
func readHints(t *testing.T, bss *ebpf.Map) hints {
	t.Helper()
	spec, err := testprogs.Spec(testprogs.DevBound)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := bss.Lookup(uint32(0), &data); err != nil {
		t.Fatal(err)
	}
	get := func(name string) uint64 {
		v := spec.Variables[name]
		if v == nil || v.SectionName != ".bss" || int(v.Offset)+8 > len(data) {
			t.Fatalf("devbound has no .bss variable %s", name)
		}
		return binary.NativeEndian.Uint64(data[v.Offset:])
	}
	return hints{get("seen"), get("hashed"), get("stamped")}
}

// devBoundAlone attaches devbound alone to the fixture's interface, bound
// to it as its own loader would (BPF_F_XDP_DEV_BOUND_ONLY, the ifindex, in
// the interface's namespace, native mode), and returns its .bss map.
func devBoundAlone(t *testing.T, f *fixture) (*ebpf.Map, func()) {
	t.Helper()
	spec, err := testprogs.Spec(testprogs.DevBound)
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs["devbound"]
	ps.Flags |= 1 << 6 // BPF_F_XDP_DEV_BOUND_ONLY
	ps.Ifindex = uint32(f.pair.B.Index)
	var coll *ebpf.Collection
	var l link.Link
	err = f.recv.Do(func() (err error) {
		if coll, err = ebpf.NewCollection(spec); err != nil {
			return err
		}
		l, err = link.AttachXDP(link.XDPOptions{Program: coll.Programs["devbound"], Interface: f.pair.B.Index, Flags: link.XDPDriverMode})
		return err
	})
	if err != nil {
		if coll != nil {
			coll.Close()
		}
		t.Fatalf("devbound alone: %v", err)
	}
	return coll.Maps[".bss"], func() { l.Close(); coll.Close() }
}

// TestDeviceBoundProgram: a program that reads XDP hints through the
// metadata kfuncs loads only bound to its device; in a chain it binds the
// whole chain to the interface, on every mechanism. With real traffic over
// a veth pair (veth implements the kfuncs), the kfuncs succeed in the chain
// for exactly the packets they succeed for the program alone, its drops
// are dropped and counted, and the program before it still drops its port.
func TestDeviceBoundProgram(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		testutil.RequireDeviceKfuncs(t)
		f := newFixture(t, mech)
		const n = 20

		// Alone, as its own loader runs it.
		bss, detach := devBoundAlone(t, f)
		before := readHints(t, bss)
		f.expectUDP(t, false, testprogs.DevBoundPortSeen, n, true)
		alone := readHints(t, bss).sub(before)
		detach()
		if alone.seen != n || alone.hashed != n {
			t.Fatalf("devbound alone: %+v for %d datagrams; veth should give every one a hash", alone, n)
		}

		r := f.attach(t)
		add(t, r, program(t, testprogs.DropPort, "dropport"))
		if status(t, r).DeviceBound {
			t.Error("status says a chain without XDP hints programs is device-bound")
		}
		add(t, r, program(t, testprogs.DevBound, "devbound"))
		if !status(t, r).DeviceBound {
			t.Error("status does not say the chain holding devbound is device-bound")
		}
		paths, err := r.ProgramMaps("devbound")
		if err != nil {
			t.Fatal(err)
		}
		bss, err = ebpf.LoadPinnedMap(paths[".bss"], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bss.Close()

		before = readHints(t, bss)
		f.expectUDP(t, false, testprogs.DevBoundPortSeen, n, true)
		if got := readHints(t, bss).sub(before); got != alone {
			t.Errorf("devbound in the chain: %+v for %d datagrams, alone %+v", got, n, alone)
		}
		b := statsByName(t, r)
		f.expectUDP(t, false, testprogs.DevBoundPortDrop, 5, false)
		f.expectUDP(t, false, dropPort, 5, false)
		a := statsByName(t, r)
		if d := sub(a["devbound"], b["devbound"]); d.Drop != 5 {
			t.Errorf("devbound counted %+v, want 5 drops", d)
		}
		if d := sub(a["dropport"], b["dropport"]); d.Drop != 5 {
			t.Errorf("dropport counted %+v, want 5 drops", d)
		}
		if mech == dispatcher.Inline {
			if p := placements(t, r)["devbound"]; p.Placement != dispatcher.PlacementInline {
				t.Errorf("devbound placed %q (%s), want inline", p.Placement, p.CallReason)
			}
			// explain runs programs with BPF_PROG_TEST_RUN, which the
			// kernel refuses a bound program (EINVAL): it says so.
			_, err := r.Explain(udpTo(testprogs.DevBoundPortSeen))
			var pe *dispatcher.ProgramError
			if !errors.As(err, &pe) || pe.Program != "devbound" || !errors.Is(err, dispatcher.ErrNotSupported) {
				t.Errorf("explaining a bound chain: %v, want devbound named as not runnable by BPF_PROG_TEST_RUN", err)
			}
		}

		// A chain change keeps the binding: a new generation with another
		// program still runs the kfuncs.
		add(t, r, program(t, testprogs.Noop, "noop"))
		before = readHints(t, bss)
		f.expectUDP(t, false, testprogs.DevBoundPortSeen, n, true)
		if got := readHints(t, bss).sub(before); got != alone {
			t.Errorf("devbound after a chain change: %+v, alone %+v", got, alone)
		}
		if !status(t, r).DeviceBound {
			t.Error("status does not say the changed chain is device-bound")
		}

		// Without it the chain is bound no more.
		if _, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs = slices.DeleteFunc(s.Programs, func(p dispatcher.Program) bool { return p.Name == "devbound" })
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if status(t, r).DeviceBound {
			t.Error("status says the chain is device-bound after devbound left it")
		}
	})
}

// TestDeviceBoundProgramGenericMode: the kernel runs bound programs only in
// native mode, so on a root attached in skb mode a bound program is refused
// by name, saying why, and the chain stays as it was.
func TestDeviceBoundProgramGenericMode(t *testing.T) {
	mechtest.Require(t, dispatcher.Inline)
	testutil.RequireDeviceKfuncs(t)
	f := newFixture(t, dispatcher.Inline)
	opts := f.opts()
	opts.Mode = dispatcher.ModeSKB
	r, err := dispatcher.Attach(f.iface(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	add(t, r, program(t, testprogs.DropPort, "dropport"))
	id := status(t, r).DispatcherID
	_, err = r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, program(t, testprogs.DevBound, "devbound"))
		return nil
	})
	var pe *dispatcher.ProgramError
	if !errors.As(err, &pe) || pe.Program != "devbound" || !errors.Is(err, dispatcher.ErrNotSupported) || !strings.Contains(err.Error(), "native") {
		t.Fatalf("a bound program on a generic-mode root: %v, want it refused for native mode", err)
	}
	if st := status(t, r); st.DispatcherID != id || len(st.Programs) != 1 {
		t.Errorf("the refused change changed the chain: dispatcher %d -> %d, %d programs", id, st.DispatcherID, len(st.Programs))
	}
	f.expectUDP(t, false, dropPort, 3, false)
}
