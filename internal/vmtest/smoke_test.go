package vmtest

import (
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const probeEthP = 0x88b5

// inNewNetNS runs fn on a locked OS thread inside a new network namespace.
func inNewNetNS(t *testing.T, fn func(h *netlink.Handle)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is left locked and dies with the goroutine, so a
		// failure cannot leak the namespace into other goroutines.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			t.Errorf("creating network namespace: %v", err)
			return
		}
		defer ns.Close()
		// Only rtnetlink: other families (xfrm) may be modules not loaded.
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		if err != nil {
			t.Errorf("netlink handle: %v", err)
			return
		}
		defer h.Close()
		fn(h)
	}()
	<-done
}

// TestVethXDP is the harness's smoke test: a veth pair in a new network
// namespace, an XDP program attached natively to one end, and frames sent
// from the other end that the program must count and drop.
func TestVethXDP(t *testing.T) {
	LogWhere(t)
	inNewNetNS(t, func(h *netlink.Handle) {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vmt0"}, PeerName: "vmt1"}
		if err := h.LinkAdd(veth); err != nil {
			t.Errorf("creating veth pair: %v", err)
			return
		}
		rx, err := h.LinkByName("vmt0")
		if err != nil {
			t.Error(err)
			return
		}
		tx, err := h.LinkByName("vmt1")
		if err != nil {
			t.Error(err)
			return
		}

		// Only the counter: the extension needs trampolines.
		spec, err := loadProbe()
		if err != nil {
			t.Error(err)
			return
		}
		var objs struct {
			ProbeCount  *ebpf.Program `ebpf:"probe_count"`
			ProbeFrames *ebpf.Map     `ebpf:"probe_frames"`
		}
		if err := spec.LoadAndAssign(&objs, nil); err != nil {
			t.Errorf("loading probe_count: %v", err)
			return
		}
		defer objs.ProbeCount.Close()
		defer objs.ProbeFrames.Close()
		l, err := link.AttachXDP(link.XDPOptions{
			Program:   objs.ProbeCount,
			Interface: rx.Attrs().Index,
			Flags:     link.XDPDriverMode,
		})
		if err != nil {
			t.Errorf("attaching XDP natively to veth: %v", err)
			return
		}
		defer l.Close()

		for _, ln := range []netlink.Link{rx, tx} {
			if err := h.LinkSetUp(ln); err != nil {
				t.Errorf("setting %s up: %v", ln.Attrs().Name, err)
				return
			}
		}

		const frames = 10
		if err := sendFrames(tx.Attrs().Index, rx.Attrs().HardwareAddr, tx.Attrs().HardwareAddr, frames); err != nil {
			t.Error(err)
			return
		}

		var got uint64
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if err := objs.ProbeFrames.Lookup(uint32(0), &got); err != nil {
				t.Errorf("reading counter: %v", err)
				return
			}
			if got >= frames {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != frames {
			t.Errorf("XDP program counted %d frames, want %d", got, frames)
		}
	})
}

func sendFrames(ifindex int, dst, src net.HardwareAddr, n int) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	frame := make([]byte, 64)
	copy(frame[0:6], dst)
	copy(frame[6:12], src)
	binary.BigEndian.PutUint16(frame[12:14], probeEthP)
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	copy(sa.Addr[:], dst)
	for i := 0; i < n; i++ {
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			return err
		}
	}
	return nil
}
