package bench

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func loadTestProgram(t *testing.T, name string) *ebpf.Program {
	t.Helper()
	cs, err := testprogs.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(coll.Close)
	return coll.Programs[testprogs.Program(name)]
}

func TestMeasure(t *testing.T) {
	testutil.RequireRoot(t)
	pkt := udpPacket()
	s, err := measure(loadTestProgram(t, testprogs.Noop), pkt, 100_000, xdpPass)
	if err != nil {
		t.Fatal(err)
	}
	if s.NsPerPacket <= 0 || s.Attempts < 1 || s.Attempts > maxAttempts {
		t.Errorf("sample %+v", s)
	}
	// The wall clock includes everything the kernel's clock does; the
	// thread's CPU time too, less at most the interrupts a kernel that
	// accounts their time apart leaves out.
	if s.WallNs+0.001 < s.KernelNs {
		t.Errorf("wall-clock %v ns below the kernel's %v ns", s.WallNs, s.KernelNs)
	}
	if !s.Disturbed && s.NsPerPacket+quietSlack < s.KernelNs {
		t.Errorf("CPU-time figure %v ns below the kernel's %v ns", s.NsPerPacket, s.KernelNs)
	}
	if s.Runs < 100_000*uint64(s.Attempts) {
		t.Errorf("%d runs counted for %d attempts of 100000", s.Runs, s.Attempts)
	}

	if _, err := measure(loadTestProgram(t, testprogs.VerdictDrop), pkt, 1000, xdpPass); err == nil {
		t.Error("measuring a dropping program as a passing one: no error")
	}
}
