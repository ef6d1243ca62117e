package dispatcher_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink/nl"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// handoverRate is the rate of the traffic a hand-over is measured under.
const handoverRate = 10000

// attachers are the tools a test attaches a program with by netlink, as
// users do: iproute2, and xdp-tools' xdp-loader (libxdp without a
// dispatcher: on the host the kernel refuses the dispatcher's freplace
// components, and libxdp attaches the program itself).
var attachers = []string{"ip", "xdp-loader"}

// TestAdoptAndLeave: a program attached by netlink (ip link, xdp-loader)
// gets an xdpchain root whose chain is that program: the same kernel
// program, its verdicts counted in the chain, a program placed after it
// running when it passes; during the hand-over at 10 000 datagrams/s only
// datagrams sent during the hand-over may miss it. Leave gives the
// interface back to netlink with the same program, likewise measured.
func TestAdoptAndLeave(t *testing.T) {
	vmtest.LogWhere(t)
	for _, tool := range attachers {
		t.Run(tool, func(t *testing.T) {
			mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
				f := newFixture(t, mech)
				id := attachWithTool(t, f, tool, testprogs.DropPort)

				r, ad := adoptMeasured(t, f, fmt.Sprintf("%s, %s", tool, mech))

				if ad.ID != id || ad.Name != "dropport" || ad.Mode != dispatcher.ModeNative {
					t.Errorf("adopted %+v, want program %d dropport in native mode", ad, id)
				}
				st := status(t, r)
				if len(st.Programs) != 1 || st.Programs[0].Name != "dropport" || st.Programs[0].AdoptedID != id {
					t.Fatalf("chain after adopt: %+v, want dropport adopting program %d", st.Programs, id)
				}
				if x := xdpOf(t, f.recv, f.iface()); x.ProgId != st.DispatcherID || x.ProgId == id {
					t.Errorf("netlink reports program %d, want the root %d", x.ProgId, st.DispatcherID)
				}
				// The adopted program's verdicts are the chain's, counted.
				d0 := programStats(t, r, "dropport")
				f.expectUDP(t, false, testprogs.DropPortDefault, 40, false)
				f.expectUDP(t, false, 7000, 30, true)
				d1 := programStats(t, r, "dropport")
				if d1.Drop-d0.Drop != 40 || d1.Pass-d0.Pass < 30 {
					t.Errorf("dropport counted drop +%d pass +%d, want +40 and at least +30", d1.Drop-d0.Drop, d1.Pass-d0.Pass)
				}
				// A program after it runs when it passes: its tail call
				// returned to the chain.
				after2 := program(t, testprogs.Counter, "after")
				after2.Priority = 90
				add(t, r, after2)
				c0 := programStats(t, r, "after")
				f.expectUDP(t, false, 7001, 25, true)
				f.expectUDP(t, false, testprogs.DropPortDefault, 10, false)
				if c1 := programStats(t, r, "after"); c1.Pass-c0.Pass < 25 {
					t.Errorf("the program after the adopted one passed %d, want at least 25", c1.Pass-c0.Pass)
					for _, p := range status(t, r).Programs {
						t.Logf("slot %d %s: placement %s %s, %+v", p.Slot, p.Name, p.Placement, p.CallReason, p.Stats)
					}
				}
				remove(t, r, "after")

				// Leave: back to netlink, the same kernel program.
				left := leaveMeasured(t, f, r, "dropport", tool, string(mech))
				if left != id {
					t.Errorf("left program %d attached, want the adopted %d", left, id)
				}
				x := xdpOf(t, f.recv, f.iface())
				if x.ProgId != id || x.AttachMode != nl.XDP_ATTACHED_DRV {
					t.Errorf("after leave netlink reports program %d mode %d, want %d native", x.ProgId, x.AttachMode, id)
				}
				if _, err := dispatcher.Open(f.iface(), f.opts()); !errors.Is(err, dispatcher.ErrNotAttached) {
					t.Errorf("after leave Open says %v, want ErrNotAttached", err)
				}
				f.expectUDP(t, false, testprogs.DropPortDefault, 20, false)
				netlinkDetach(t, f)
			})
		})
	}
}

// TestLeaveLoaded leaves a program xdpchain loaded from its object: it is
// loaded on its own with its maps (its state carries over) and attached
// by netlink; the root and pins go.
func TestLeaveLoaded(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		add(t, r, program(t, testprogs.DropPort, "dropport"), program(t, testprogs.Counter, "counter"))
		f.expectUDP(t, false, 7000, 20, true)
		maps, err := r.ProgramMaps("counter")
		if err != nil {
			t.Fatal(err)
		}
		hits := mapID(t, maps["hits"])
		left := leaveMeasured(t, f, r, "counter", "xdpchain", string(mech))
		x := xdpOf(t, f.recv, f.iface())
		if x.ProgId != left || x.AttachMode != nl.XDP_ATTACHED_DRV {
			t.Fatalf("netlink reports program %d mode %d, want %d native", x.ProgId, x.AttachMode, left)
		}
		p, err := ebpf.NewProgramFromID(ebpf.ProgramID(left))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := info.MapIDs()
		if info.Name != "counter" || !slices.Contains(ids, hits) {
			t.Errorf("left program %q uses maps %v, want counter with its hits map %d", info.Name, ids, hits)
		}
		// Only the counter runs now: dropport's port passes.
		f.expectUDP(t, false, testprogs.DropPortDefault, 15, true)
		netlinkDetach(t, f)
	})
}

// TestAdoptRefuses: nothing attached, an xdpchain root, and a bad name
// are refused and change nothing.
func TestAdoptRefuses(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Inline)
	if _, _, err := dispatcher.Adopt(f.iface(), f.opts(), dispatcher.AdoptOptions{}); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("adopting nothing: %v, want ErrInvalid", err)
	}
	id := attachWithTool(t, f, "ip", testprogs.DropPort)
	if _, _, err := dispatcher.Adopt(f.iface(), f.opts(), dispatcher.AdoptOptions{Name: "no/slash"}); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("adopting under a bad name: %v, want ErrInvalid", err)
	}
	if x := xdpOf(t, f.recv, f.iface()); x.ProgId != id {
		t.Errorf("after a refused adopt netlink reports program %d, want %d", x.ProgId, id)
	}
	netlinkDetach(t, f)
	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "counter"))
	if _, _, err := dispatcher.Adopt(f.iface(), f.opts(), dispatcher.AdoptOptions{}); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("adopting an xdpchain root: %v, want ErrInvalid", err)
	}
	if got := names(t, status(t, r)); fmt.Sprint(got) != "[counter]" {
		t.Errorf("chain after a refused adopt: %v", got)
	}
}

// leaveMeasured leaves name under 10 000 datagrams/s to dropport's port
// and reports how many were not seen by a program during the hand-over.
// Which program drops them changes (the chain, then the program left):
// only when name is dropport does every datagram have a dropper, so
// the measure is logged then only.
func leaveMeasured(t *testing.T, f *fixture, r *dispatcher.Root, name, tool, mech string) uint32 {
	t.Helper()
	dropAddr := netip.AddrPortFrom(f.pair.B.Addr4(), testprogs.DropPortDefault)
	var missed *seqReceiver
	if name == "dropport" {
		missed = newSeqReceiver(t, f.recv, dropAddr)
	}
	s := testutil.StartPacedUDP(t, f.send, handoverRate, dropAddr)
	s.WaitSent(t, 2000)
	before := s.Sent()
	id, err := r.Leave(name)
	after := s.Sent()
	if err != nil {
		s.Stop(t)
		t.Fatalf("leave %s: %v", name, err)
	}
	s.WaitSent(t, after+2000)
	total, _ := s.Stop(t)
	if missed != nil {
		gap := handoverGap(t, missed, total, before, after)
		missed.conn.Close()
		t.Logf("%s, %s: leave: %d of %d datagrams at %d/s not seen by the program during the hand-over (%d sent while Leave ran)",
			tool, mech, gap, total, handoverRate, after-before)
	}
	return id
}

// adoptMeasured adopts the fixture's interface while datagrams to the
// dropper's port are sent at handoverRate, and logs (labelled label) how
// many were not seen by the dropper during the hand-over; each must have
// been sent while Adopt ran.
func adoptMeasured(t *testing.T, f *fixture, label string) (*dispatcher.Root, *dispatcher.Adopted) {
	t.Helper()
	dropAddr := netip.AddrPortFrom(f.pair.B.Addr4(), testprogs.DropPortDefault)
	missed := newSeqReceiver(t, f.recv, dropAddr) // datagrams the dropper did not see
	s := testutil.StartPacedUDP(t, f.send, handoverRate, dropAddr)
	s.WaitSent(t, 2000)
	before := s.Sent()
	r, ad, err := dispatcher.Adopt(f.iface(), f.opts(), dispatcher.AdoptOptions{Owner: "user:0"})
	if err != nil {
		s.Stop(t)
		t.Fatalf("adopt: %v", err)
	}
	after := s.Sent()
	t.Cleanup(func() { r.Close() })
	s.WaitSent(t, after+2000)
	total, _ := s.Stop(t)
	gap := handoverGap(t, missed, total, before, after)
	missed.conn.Close()
	t.Logf("%s: adopt: %d of %d datagrams at %d/s not seen by the dropper during the hand-over (%d sent while Adopt ran)",
		label, gap, total, handoverRate, after-before)
	return r, ad
}

// handoverGap waits until the datagrams that missed the dropper stop
// arriving and checks that each was sent while the hand-over ran (between
// before and after); it returns how many there were.
func handoverGap(t *testing.T, missed *seqReceiver, total, before, after int64) int {
	t.Helper()
	// The last datagram is on its way; wait for quiet at the receiver.
	quiet, last := 0, -1
	for quiet < 20 {
		n := missed.count()
		if n == last {
			quiet++
		} else {
			quiet, last = 0, n
		}
		time.Sleep(10 * time.Millisecond)
	}
	missed.mu.Lock()
	defer missed.mu.Unlock()
	for seq := range missed.seen {
		if int64(seq) < before || int64(seq) >= after {
			t.Errorf("datagram %d (of %d) was not seen by the program, though sent outside the hand-over [%d, %d)", seq, total, before, after)
		}
	}
	return len(missed.seen)
}

// attachWithTool attaches testprogs object name to the fixture's interface
// in native mode by netlink with tool, and returns the program's ID.
func attachWithTool(t *testing.T, f *fixture, tool, name string) uint32 {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (Debian: iproute2, xdp-tools): %v", tool, err)
	}
	obj, err := testprogs.WriteFile(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch tool {
	case "ip":
		cmd = exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", f.iface(), "xdpdrv", "obj", obj, "sec", "xdp")
	case "xdp-loader":
		// In the namespace by nsenter (ip netns exec would hide the
		// bpffs), libxdp's pins in the test's bpffs.
		cmd = exec.Command("nsenter", "--net="+f.recv.Path, "xdp-loader", "load", "-m", "native", f.iface(), obj)
		dir := filepath.Join(f.bpffs, "libxdp")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), "LIBXDP_BPFFS="+f.bpffs)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	x := xdpOf(t, f.recv, f.iface())
	if x.ProgId == 0 {
		t.Fatalf("%s attached nothing to %s", tool, f.iface())
	}
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if info, err := p.Info(); err != nil || info.Name != name {
		t.Skipf("%s attached program %d (%v, %v), not %s itself: libxdp used its dispatcher (TestAdoptLibxdp adopts that)", tool, x.ProgId, info.Name, err, name)
	}
	return x.ProgId
}

// netlinkDetach removes the program attached by netlink (as `ip link set
// dev X xdp off` does).
func netlinkDetach(t *testing.T, f *fixture) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", f.recv.Name, "link", "set", "dev", f.iface(), "xdpdrv", "off").CombinedOutput(); err != nil {
		t.Errorf("ip link set xdp off: %v\n%s", err, out)
	}
}

// mapID is the kernel ID of the map pinned at path.
func mapID(t *testing.T, path string) ebpf.MapID {
	t.Helper()
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}
