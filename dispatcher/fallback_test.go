package dispatcher

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestFallBackToCalls checks the apply's step after the verifier refuses an
// inlined chain: the inline mechanism reports the refusal as an
// *inlineRefusedError (nothing loaded), and fallBackToCalls places every
// slot called, each with a reason quoting the verifier, and builds a root
// that runs the chain. The refusal is made by hand: an inlined body that
// reads a register nothing wrote.
func TestFallBackToCalls(t *testing.T) {
	g := testGeneration(t, true,
		Program{Name: "c1", Object: testprogs.Object(testprogs.Counter), ProceedOn: DefaultProceedOn},
		Program{Name: "c2", Object: testprogs.Object(testprogs.Counter), ProceedOn: DefaultProceedOn})
	m := &inlineMechanism{}
	g.mech = m
	if err := g.prepareRoot(); err != nil {
		t.Fatal(err)
	}
	if !g.slots[0].inlined() || !g.slots[1].inlined() {
		t.Fatalf("counter not inlined: %q (%s), %q (%s)", g.slots[0].placed, g.slots[0].callReason, g.slots[1].placed, g.slots[1].callReason)
	}
	// The body's first instruction is kept (its source and BTF line);
	// the read of r5 goes after it.
	p := m.parts[g.slots[1]]
	p.body = append(asm.Instructions{p.body[0], asm.Mov.Reg(asm.R0, asm.R5)}, p.body[1:]...)
	m.parts[g.slots[1]] = p
	g.rootSpec.Instructions = emitRoot(g, g.rootSpec.Instructions[0])
	for _, s := range g.slots {
		_, rest := m.inlined(s)
		g.rootSpec.Instructions = append(g.rootSpec.Instructions, rest...)
	}

	prog, err := g.mech.build(g)
	var refused *inlineRefusedError
	if !errors.As(err, &refused) {
		if prog != nil {
			prog.Close()
		}
		t.Fatalf("build of a broken inlined chain: %v, want an *inlineRefusedError", err)
	}
	t.Logf("refused: %v", firstLine(err))

	prog, err = fallBackToCalls(g, refused)
	if err != nil {
		t.Fatalf("falling back to calls: %v", err)
	}
	g.prog = prog
	for _, s := range g.slots {
		if s.inlined() || s.placed != PlacementCall || !strings.Contains(s.callReason, "called: the verifier refused the inlined chain: ") {
			t.Errorf("%s placed %q (%q), want called with the verifier's reason", s.Name, s.placed, s.callReason)
		}
	}
	if ret, _ := testutil.RunXDP(t, prog, make([]byte, 64)); ret != uint32(Pass) {
		t.Errorf("verdict %d, want pass", ret)
	}
}
