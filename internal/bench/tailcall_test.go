package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// x86IndirectTailCall is how the x86-64 JIT starts an indirect tail call
// (emit_bpf_tail_call_indirect): "mov edx, edx; cmp [rsi + off], edx", the
// index checked against the map's max_entries at run time. A direct one
// (a constant key, patched into a jmp) has no such check.
var x86IndirectTailCall = []byte{0x89, 0xd2, 0x39, 0x56}

// jited returns prog's JITed image, skipping where there is none.
func jited(t *testing.T, prog *ebpf.Program) []byte {
	t.Helper()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	b, ok := info.JitedInsns()
	if !ok || len(b) == 0 {
		t.Skip("the kernel shows no JITed image (JIT off, or kptr/bpf restrictions)")
	}
	return b
}

// TestTailCallDirect makes sure the tail-call chain's tail calls are the
// direct jumps it is meant to measure: no link makes an indirect tail call
// (calibrated on a tail call with an unknown key, which the JIT must emit
// as an indirect one), and every link but the last holds a jmp rel32 into
// the next link's image: the JIT's patched poke.
func TestTailCallDirect(t *testing.T) {
	testutil.RequireRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("knows the x86-64 JIT's tail calls only")
	}
	cs, err := testprogs.Spec(testprogs.TailCall)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ebpf.NewMap(cs.Maps[testprogs.TailCallMap])
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	indirect, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.FnGetPrandomU32.Call(),
			asm.Mov.Reg(asm.R3, asm.R0),
			asm.And.Imm(asm.R3, 1), // 0 or 1: not a constant
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, chain.FD()),
			asm.FnTailCall.Call(),
			asm.Mov.Imm(asm.R0, int32(xdpPass)),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer indirect.Close()
	if !bytes.Contains(jited(t, indirect), x86IndirectTailCall) {
		t.Skip("this kernel's JIT emits indirect tail calls differently; cannot tell direct ones apart")
	}

	ns, err := newBenchNS()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, program := range []string{ProgramNoop, ProgramUDP} {
		s, err := tailCallSubject(ns, program, 4)
		if err != nil {
			t.Fatal(err)
		}
		images := make([]image, len(s.links))
		for i, p := range s.links {
			images[i] = imageOf(t, p)
			if bytes.Contains(images[i].code, x86IndirectTailCall) {
				t.Errorf("%s: link %d makes an indirect tail call: the verifier did not see its key as a constant", program, i)
			}
		}
		for i := 0; i+1 < len(images); i++ {
			if !images[i].jumpsInto(images[i+1]) {
				t.Errorf("%s: link %d has no direct jmp into link %d (%#x, %d bytes): its tail call was not patched", program, i, i+1, images[i+1].addr, len(images[i+1].code))
			}
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// image is a JITed program: its code and where it is.
type image struct {
	addr uint64
	code []byte
}

// imageOf returns prog's JITed image and address, skipping where the
// kernel shows neither.
func imageOf(t *testing.T, prog *ebpf.Program) image {
	t.Helper()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	addrs, ok := info.JitedKsymAddrs()
	if !ok || len(addrs) == 0 || addrs[0] == 0 {
		t.Skip("the kernel shows no JITed image address (kptr_restrict, or bpf_jit_kallsyms off)")
	}
	return image{addr: uint64(addrs[0]), code: jited(t, prog)}
}

// jumpsInto reports whether im holds a jmp rel32 (e9) whose target lies in
// next's image.
func (im image) jumpsInto(next image) bool {
	for i := 0; i+5 <= len(im.code); i++ {
		if im.code[i] != 0xe9 {
			continue
		}
		rel := int32(binary.LittleEndian.Uint32(im.code[i+1 : i+5]))
		target := im.addr + uint64(i) + 5 + uint64(int64(rel))
		if target >= next.addr && target < next.addr+uint64(len(next.code)) {
			return true
		}
	}
	return false
}

// TestTailCallLimit builds the longest tail-call chain the kernel runs to
// its end, and one longer, which must fail (it returns XDP_ABORTED): the
// kernel's limit is what TailCallMaxPrograms says.
func TestTailCallLimit(t *testing.T) {
	testutil.RequireRoot(t)
	ns, err := newBenchNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	}()
	s, err := tailCallSubject(ns, ProgramNoop, TailCallMaxPrograms)
	if err != nil {
		t.Fatalf("a tail-call chain of %d: %v", TailCallMaxPrograms, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	s, err = tailCallSubject(ns, ProgramUDP, TailCallMaxPrograms+1)
	if err == nil {
		s.Close()
		t.Fatalf("a tail-call chain of %d ran to its end", TailCallMaxPrograms+1)
	}
	if !strings.Contains(err.Error(), "did not run to its end") {
		t.Errorf("a tail-call chain of %d: %v, want it cut short", TailCallMaxPrograms+1, err)
	}
}

// BenchmarkTailCallRing measures what one tail call costs as a function of
// how many distinct programs a packet passes: a ring of k programs, each
// tail-calling the next with a literal key (the last the first), runs
// until the kernel's limit stops it, so every packet makes 33 tail calls
// through k distinct JITed images (k = 1: a program tail-calling itself).
// It reports ns per tail call; the ring sizes are measured round robin.
//
//	sudo go test -run '^$' -bench TailCallRing -benchtime 1x ./internal/bench
func BenchmarkTailCallRing(b *testing.B) {
	testutil.RequireRoot(b)
	ns, err := newBenchNS()
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	type ring struct {
		k       int
		s       *subject
		samples []float64
	}
	var rings []*ring
	for _, k := range []int{1, 2, 4, 6, 8, 12, 16, 34} {
		s := &subject{}
		defer s.Close()
		arr, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: uint32(k)})
		if err != nil {
			b.Fatal(err)
		}
		s.closers = append(s.closers, arr)
		for i := 0; i < k; i++ {
			p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: asm.Instructions{
				asm.LoadMapPtr(asm.R2, arr.FD()),
				asm.Mov.Imm(asm.R3, int32((i+1)%k)),
				asm.FnTailCall.Call(),
				asm.Mov.Imm(asm.R0, int32(xdpPass)),
				asm.Return(),
			}})
			if err != nil {
				b.Fatal(err)
			}
			s.closers = append(s.closers, p)
			s.links = append(s.links, p)
		}
		for i, p := range s.links {
			if err := arr.Put(uint32(i), p); err != nil {
				b.Fatal(err)
			}
		}
		s.prog = s.links[0]
		if err := attachXDP(ns, s, s.prog); err != nil {
			b.Fatal(err)
		}
		rings = append(rings, &ring{k: k, s: s})
	}
	pkt := udpPacket()
	for range b.N {
		for round := 0; round < DefaultRounds; round++ {
			for _, r := range rings {
				m, err := measure(r.s.prog, pkt, DefaultRepeat, xdpPass)
				if err != nil {
					b.Fatal(err)
				}
				r.samples = append(r.samples, m.NsPerPacket)
			}
		}
	}
	for _, r := range rings {
		med := Median(r.samples)
		b.Logf("ring of %2d programs: %7.2f ns per packet, %5.2f ns per tail call", r.k, med, med/33)
		b.ReportMetric(med/33, fmt.Sprintf("ns/tailcall-ring%d", r.k))
	}
}
