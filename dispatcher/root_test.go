package dispatcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink/nl"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// pinDirOf is where the pins of the fixture's root live.
func pinDirOf(f *fixture, st *dispatcher.InterfaceStatus) string {
	return filepath.Join(f.bpffs, "xdpchain", strconv.FormatUint(st.NetNSInode, 10), strconv.Itoa(st.Ifindex))
}

// stateDirOf is where the state of the fixture's root lives.
func stateDirOf(f *fixture, st *dispatcher.InterfaceStatus) string {
	return filepath.Join(f.stateDir, strconv.FormatUint(st.NetNSInode, 10), strconv.Itoa(st.Ifindex))
}

func TestAttachEmptyRoot(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		st := status(t, r)
		if st.Name != f.iface() || st.Ifindex != f.pair.B.Index {
			t.Errorf("status names %s/%d, want %s/%d", st.Name, st.Ifindex, f.iface(), f.pair.B.Index)
		}
		if st.Mode != dispatcher.ModeNative {
			t.Errorf("mode %q on veth with mode auto, want native", st.Mode)
		}
		if st.Mechanism != mech {
			t.Errorf("mechanism %q, want %q", st.Mechanism, mech)
		}
		if st.LinkID == 0 || st.DispatcherID == 0 {
			t.Errorf("link ID %d, dispatcher ID %d: want both set", st.LinkID, st.DispatcherID)
		}
		if st.Fallthrough != "pass" || len(st.Programs) != 0 {
			t.Errorf("new root: fall-through %q with %d programs, want pass and none", st.Fallthrough, len(st.Programs))
		}
		if name, idx := r.Interface(); name != f.iface() || idx != f.pair.B.Index {
			t.Errorf("Interface() = %s, %d", name, idx)
		}
		x := xdpOf(t, f.recv, f.iface())
		if x == nil || x.ProgId != st.DispatcherID {
			t.Fatalf("netlink reports XDP %+v on %s, want the dispatcher %d", x, f.iface(), st.DispatcherID)
		}

		// Attaching again opens the same root.
		r2 := f.attach(t)
		if st2 := status(t, r2); st2.LinkID != st.LinkID || st2.DispatcherID != st.DispatcherID {
			t.Errorf("second Attach: link %d dispatcher %d, want the first's %d %d", st2.LinkID, st2.DispatcherID, st.LinkID, st.DispatcherID)
		}

		// The empty root passes everything and counts it as fall-through.
		f.expectUDP(t, false, dropPort, 10, true)
		f.expectUDP(t, true, dropPort, 10, true)
		if got := status(t, r).FallthroughPackets; got < 20 {
			t.Errorf("fall-through counted %d packets, sent 20", got)
		}
	})
}

func TestOpenWithoutRoot(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	_, err := dispatcher.Open(f.iface(), f.opts())
	if !errors.Is(err, dispatcher.ErrNotAttached) {
		t.Fatalf("Open of an interface without root: %v, want ErrNotAttached", err)
	}
	if x := xdpOf(t, f.recv, f.iface()); x != nil {
		t.Errorf("Open attached program %d", x.ProgId)
	}
	if _, err := dispatcher.Open("nosuchif0", f.opts()); err == nil {
		t.Error("Open of a missing interface succeeded")
	}
	// Looking must not leave anything behind.
	entries, _ := os.ReadDir(filepath.Join(f.bpffs, "xdpchain"))
	for _, e := range entries {
		sub, _ := os.ReadDir(filepath.Join(f.bpffs, "xdpchain", e.Name()))
		for _, s := range sub {
			t.Errorf("Open without a root left %s", filepath.Join(f.bpffs, "xdpchain", e.Name(), s.Name()))
		}
	}
}

func TestRootNeverDetachedImplicitly(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		f.expectServing(t)
		before := status(t, r)

		// Removing every program leaves an empty dispatcher attached.
		if _, err := r.Update(func(s *dispatcher.Spec) error { s.Programs = nil; return nil }); err != nil {
			t.Fatal(err)
		}
		empty := status(t, r)
		if len(empty.Programs) != 0 {
			t.Fatalf("after removing all: %v", names(t, empty))
		}
		if empty.LinkID != before.LinkID {
			t.Errorf("root link changed from %d to %d", before.LinkID, empty.LinkID)
		}
		if empty.DispatcherID == before.DispatcherID {
			t.Errorf("dispatcher %d not replaced by an empty generation", empty.DispatcherID)
		}
		x := xdpOf(t, f.recv, f.iface())
		if x == nil || x.ProgId != empty.DispatcherID {
			t.Fatalf("netlink reports %+v, want the empty dispatcher %d attached", x, empty.DispatcherID)
		}
		f.expectUDP(t, false, dropPort, 10, true)
		f.expectUDP(t, true, passPort, 10, true)
		if got := status(t, r).FallthroughPackets - empty.FallthroughPackets; got < 20 {
			t.Errorf("fall-through counted %d packets, sent 20", got)
		}

		// Only Detach removes it, with every pin and the state.
		if err := r.Detach(); err != nil {
			t.Fatal(err)
		}
		if x := xdpOf(t, f.recv, f.iface()); x != nil {
			t.Errorf("after Detach netlink still reports program %d", x.ProgId)
		}
		for _, dir := range []string{pinDirOf(f, before), stateDirOf(f, before)} {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Detach %s: %v, want it gone", dir, err)
			}
		}
		if _, err := dispatcher.Open(f.iface(), f.opts()); !errors.Is(err, dispatcher.ErrNotAttached) {
			t.Errorf("Open after Detach: %v, want ErrNotAttached", err)
		}
		f.expectUDP(t, false, dropPort, 5, true)
	})
}

func TestAttachModes(t *testing.T) {
	vmtest.LogWhere(t)
	for _, tc := range []struct {
		mode   dispatcher.Mode
		netlnk uint32 // XDP_ATTACHED_*
	}{
		{dispatcher.ModeNative, nl.XDP_ATTACHED_DRV},
		{dispatcher.ModeSKB, nl.XDP_ATTACHED_SKB},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
				f := newFixture(t, mech)
				opts := f.opts()
				opts.Mode = tc.mode
				r, err := dispatcher.Attach(f.iface(), opts)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				add(t, r, program(t, "dropport", "dropport"))
				st := status(t, r)
				if st.Mode != tc.mode {
					t.Errorf("status mode %q, want %q", st.Mode, tc.mode)
				}
				if x := xdpOf(t, f.recv, f.iface()); x == nil || x.AttachMode != tc.netlnk {
					t.Errorf("netlink reports %+v, want attach mode %d", x, tc.netlnk)
				}
				f.expectUDP(t, false, dropPort, 5, false)
				f.expectUDP(t, false, passPort, 5, true)

				// The mode is fixed when the root is created.
				other := dispatcher.ModeSKB
				if tc.mode == dispatcher.ModeSKB {
					other = dispatcher.ModeNative
				}
				opts.Mode = other
				if _, err := dispatcher.Attach(f.iface(), opts); !errors.Is(err, dispatcher.ErrInvalid) {
					t.Errorf("Attach in %s mode to a root in %s mode: %v, want ErrInvalid", other, tc.mode, err)
				}
				if got := status(t, r); got.DispatcherID != st.DispatcherID || got.Mode != tc.mode {
					t.Errorf("refused mode change altered the root: %+v", got)
				}
			})
		})
	}
}

func TestList(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	second := testutil.NewVethPair(t, f.send, f.recv, nil)
	r1 := f.attach(t)
	r2, err := dispatcher.Attach(second.B.Name, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	add(t, r2, program(t, "counter", "c2"))

	all, err := dispatcher.List(&dispatcher.Options{BPFFS: f.bpffs, StateDir: f.stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("List found %d roots, want 2: %+v", len(all), all)
	}
	if all[0].Ifindex > all[1].Ifindex {
		t.Errorf("List not sorted by ifindex: %d, %d", all[0].Ifindex, all[1].Ifindex)
	}
	byName := map[string]dispatcher.InterfaceStatus{all[0].Name: all[0], all[1].Name: all[1]}
	if s, ok := byName[second.B.Name]; !ok || len(s.Programs) != 1 || s.Programs[0].Name != "c2" {
		t.Errorf("List entry of %s: %+v", second.B.Name, s)
	}
	if s, ok := byName[f.iface()]; !ok || len(s.Programs) != 0 || s.NetNS != f.recv.Name {
		t.Errorf("List entry of %s: %+v", f.iface(), s)
	}

	if err := r1.Detach(); err != nil {
		t.Fatal(err)
	}
	all, err = dispatcher.List(&dispatcher.Options{BPFFS: f.bpffs, StateDir: f.stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Name != second.B.Name {
		t.Errorf("after detaching %s, List: %+v", f.iface(), all)
	}
	detachIfAttached(t, second.B.Name, f.opts())
}

// TestAutoModeFallsBackToSKB attaches to the loopback interface of a new
// namespace, which has no native XDP: auto mode falls back to skb and says
// so, native mode fails and attaches nothing.
func TestAutoModeFallsBackToSKB(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	opts := &dispatcher.Options{NetNS: ns.Name, BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir(), Mechanism: dispatcher.Linked, Mode: dispatcher.ModeNative}
	if _, err := dispatcher.Attach("lo", opts); err == nil {
		t.Fatal("native mode on lo succeeded")
	} else {
		t.Logf("native refused: %v", err)
	}
	if x := xdpOf(t, ns, "lo"); x != nil {
		t.Fatalf("failed native attach left program %d", x.ProgId)
	}
	opts.Mode = dispatcher.ModeAuto
	r, err := dispatcher.Attach("lo", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := status(t, r); st.Mode != dispatcher.ModeSKB {
		t.Errorf("auto mode on lo: %q, want skb", st.Mode)
	}
	if x := xdpOf(t, ns, "lo"); x == nil || x.AttachMode != nl.XDP_ATTACHED_SKB {
		t.Errorf("netlink reports %+v, want a generic (skb) attachment", x)
	}
	if err := r.Detach(); err != nil {
		t.Fatal(err)
	}
}
