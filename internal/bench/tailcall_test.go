package bench

import (
	"bytes"
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
// direct jumps it is meant to measure: the verifier must see the .rodata
// key as a constant. It calibrates on a tail call with an unknown key,
// which the JIT must emit as an indirect one.
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
			asm.Mov.Imm(asm.R0, xdpPass),
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
		s, err := tailCallSubject(ns, program, 2)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(jited(t, s.prog), x86IndirectTailCall) {
			t.Errorf("the %s tail-call chain's first program makes an indirect tail call: the verifier did not see its key as a constant", program)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
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
