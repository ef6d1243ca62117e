package dispatcher

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
)

func TestStackDepths(t *testing.T) {
	log := "func#0 @0\nverification time 12 usec\nstack depth 48+0+16\nprocessed 20 insns (limit 1000000)\n"
	got, err := stackDepths(log)
	if err != nil || !slices.Equal(got, []int{48, 0, 16}) {
		t.Errorf("stackDepths = %v, %v", got, err)
	}
	if got, err := stackDepths("stack depth 8\n"); err != nil || !slices.Equal(got, []int{8}) {
		t.Errorf("one function: %v, %v", got, err)
	}
	if _, err := stackDepths("processed 2 insns\n"); !errors.Is(err, errNoStackDepth) {
		t.Errorf("no statistics: %v", err)
	}
	for _, bad := range []string{"stack depth 8+x\n", "stack depth 4096\n", "stack depth -8\n"} {
		if _, err := stackDepths(bad); err == nil || errors.Is(err, errNoStackDepth) {
			t.Errorf("%q: %v, want a parse error", bad, err)
		}
	}
}

// graphOf builds a call graph by hand: funcs[i] calls calls[i], tail marks
// tail-calling functions.
func graphOf(frames []int, calls [][]int, tail ...int) *callGraph {
	g := &callGraph{frames: frames, callees: calls, tail: make([]bool, len(frames))}
	for _, f := range tail {
		g.tail[f] = true
	}
	return g
}

func TestCallGraphDepth(t *testing.T) {
	// 0 calls 1 and 2; 2 calls 3.
	g := graphOf([]int{100, 8, 40, 200}, [][]int{{1, 2}, nil, {3}, nil})
	if got := g.depth(0); got != 128+64+224 {
		t.Errorf("depth(0) = %d, want 416", got)
	}
	if got := g.calleeDepth(0); got != 64+224 {
		t.Errorf("calleeDepth(0) = %d, want 288", got)
	}
	if got := g.tailBefore(0); got != -1 {
		t.Errorf("no tail call: tailBefore = %d", got)
	}
	// 3 tail calls: the frames before it are 0's and 2's.
	g.tail[3] = true
	if got := g.tailBefore(0); got != 128+64 {
		t.Errorf("tailBefore(0) = %d, want 192", got)
	}
	if got := g.calleeTailBefore(0); got != 64 {
		t.Errorf("calleeTailBefore(0) = %d, want 64", got)
	}
	// A tail call in the entry function itself costs nothing before it.
	if got := graphOf([]int{300}, [][]int{nil}, 0).tailBefore(0); got != 0 {
		t.Errorf("entry tail call: %d", got)
	}
}

func TestNewCallGraph(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Inline)
	if err != nil {
		t.Fatal(err)
	}
	insns := spec.Programs["subprogs"].Instructions
	funcs := splitFunctions(insns)
	g, err := newCallGraph(insns, make([]int, len(funcs)))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.callees[0]) < 2 {
		t.Errorf("subprogs calls %v, want dport and is_port", g.callees[0])
	}
	if _, err := newCallGraph(insns, []int{0}); err == nil {
		t.Error("a depth count that does not match the functions was accepted")
	}
	tc := spec.Programs["tailcall"].Instructions
	g, err = newCallGraph(tc, []int{0})
	if err != nil || !g.tail[0] {
		t.Errorf("tailcall: %v, tail %v", err, g)
	}
}

// planSlots are slots with hand-written stack facts for planInline.
func planSlots(graphs ...*callGraph) *generation {
	g := &generation{}
	for i, cg := range graphs {
		s := &slot{Program: Program{Name: string(rune('a' + i))}}
		if cg != nil {
			s.frames, s.graph = cg.frames, cg
		}
		g.slots = append(g.slots, s)
	}
	return g
}

func TestPlanInline(t *testing.T) {
	leaf := func(depth int) *callGraph { return graphOf([]int{depth}, [][]int{nil}) }
	withCallee := func(depth, callee int) *callGraph {
		return graphOf([]int{depth, callee}, [][]int{{1}, nil})
	}
	for _, tc := range []struct {
		name   string
		g      *generation
		inline []bool
		reason string // part of the first called slot's reason
	}{
		{"small programs all inline", planSlots(leaf(0), leaf(64), withCallee(8, 32)), []bool{true, true, true}, ""},
		{"480 bytes alone inline", planSlots(leaf(480), leaf(0)), []bool{true, true}, ""},
		{"480 bytes beside a callee chain is called", planSlots(leaf(480), withCallee(0, 32)), []bool{false, true}, "480-byte stack"},
		{"unknown depth is called", planSlots(nil, leaf(0)), []bool{false, true}, "unknown"},
		// Calling the 400-byte program leaves no room under a root holding
		// the 300-byte one either.
		{"deepest goes first, then what it needs", planSlots(leaf(300), leaf(400), withCallee(0, 100)), []bool{false, false, true}, "call chain of \"b\""},
		{"deepest goes first", planSlots(leaf(0), leaf(400), withCallee(0, 128)), []bool{true, false, true}, "400-byte stack"},
		{"tail call after deep frames", planSlots(leaf(240), graphOf([]int{0, 0}, [][]int{{1}, nil}, 1)), []bool{false, true}, "tail call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			planInline(tc.g)
			var got []bool
			reason := ""
			for _, s := range tc.g.slots {
				got = append(got, s.inlined())
				if !s.inlined() && reason == "" {
					reason = s.callReason
				}
			}
			if !slices.Equal(got, tc.inline) {
				t.Errorf("inlined %v, want %v (%s)", got, tc.inline, reason)
			}
			if !strings.Contains(reason, tc.reason) {
				t.Errorf("reason %q, want it to mention %q", reason, tc.reason)
			}
			if v := tc.g.stackViolation(); v != "" && tc.g.anyInlined() {
				t.Errorf("the plan breaks %s", v)
			}
		})
	}
}

func TestInlineParts(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Inline)
	if err != nil {
		t.Fatal(err)
	}
	s := &slot{insns: spec.Programs["subprogs"].Instructions}
	body, rest, err := inlineParts(s, 3, "cont3")
	if err != nil {
		t.Fatal(err)
	}
	entry := splitFunctions(s.insns)[0].insns
	if len(body) != len(entry) {
		t.Fatalf("body has %d instructions, the entry function %d: sizes must not change (raw jump offsets)", len(body), len(entry))
	}
	if body[0].Symbol() != "" || btf.FuncMetadata(&body[0]) != nil {
		t.Errorf("the body still starts a function: %q %v", body[0].Symbol(), btf.FuncMetadata(&body[0]))
	}
	exits, jumps := 0, 0
	for i, ins := range body {
		if ins.OpCode.JumpOp() == asm.Exit {
			exits++
		}
		if ins.Reference() == "cont3" {
			jumps++
			if entry[i].OpCode.JumpOp() != asm.Exit {
				t.Errorf("instruction %d (%v) became a jump to the continuation", i, entry[i])
			}
		}
		if ins.IsFunctionReference() && !strings.HasPrefix(ins.Reference(), "xdpchain_s3_") {
			t.Errorf("call to %q, not renamed for slot 3", ins.Reference())
		}
	}
	if exits != 0 || jumps == 0 {
		t.Errorf("%d exits left, %d jumps to the continuation", exits, jumps)
	}
	var names []string
	for _, f := range splitFunctions(rest) {
		names = append(names, f.name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"xdpchain_s3_dport", "xdpchain_s3_is_port"}) {
		t.Errorf("other functions %v", names)
	}
}

func TestWritesReg(t *testing.T) {
	for _, tc := range []struct {
		name string
		ins  asm.Instruction
		r6   bool
	}{
		{"mov to r6", asm.Mov.Imm(asm.R6, 1), true},
		{"alu32 on r6", asm.Add.Imm32(asm.R6, 1), true},
		{"load into r6", asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), true},
		{"map pointer into r6", asm.LoadMapPtr(asm.R6, 0), true},
		{"store from r6", asm.StoreMem(asm.R1, 0, asm.R6, asm.DWord), false},
		{"read r6", asm.Mov.Reg(asm.R1, asm.R6), false},
		{"fetch-add returns into r6", asm.Instruction{OpCode: asm.OpCode(asm.StXClass).SetMode(asm.AtomicMode).SetSize(asm.DWord), Dst: asm.R1, Src: asm.R6, Constant: 0x01}, true},
		{"plain atomic add from r6", asm.Instruction{OpCode: asm.OpCode(asm.StXClass).SetMode(asm.AtomicMode).SetSize(asm.DWord), Dst: asm.R1, Src: asm.R6, Constant: 0x00}, false},
		{"helper call", asm.FnMapLookupElem.Call(), false},
		{"jump", asm.JEq.Imm(asm.R6, 0, "x"), false},
	} {
		if got := writesReg(asm.Instructions{tc.ins}, asm.R6); got != tc.r6 {
			t.Errorf("%s: writes r6 %v, want %v", tc.name, got, tc.r6)
		}
	}
	// A compare-and-exchange writes r0.
	cmpxchg := asm.Instruction{OpCode: asm.OpCode(asm.StXClass).SetMode(asm.AtomicMode).SetSize(asm.DWord), Dst: asm.R1, Src: asm.R2, Constant: 0xf1}
	if !writesReg(asm.Instructions{cmpxchg}, asm.R0) {
		t.Error("cmpxchg does not write r0")
	}
}
