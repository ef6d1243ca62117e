package dispatcher

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Inline splicing (the Inline mechanism).
//
// A called slot costs a BPF-to-BPF call and its return, 7–10 ns on CPUs that
// mitigate SRSO with "Safe RET". An inlined slot costs its own instructions:
// the program's entry function is written into the root between the slot's
// label and its continuation (the verdict checks and counting), every exit of
// it becoming a jump to the continuation. Its other functions stay
// subprograms. The body's instructions are not changed otherwise: its stack
// stays where the compiler put it, at the top of the root's frame, and the
// root keeps what it needs across bodies (the context and the counters
// pointer) in two slots below the deepest inlined body, reloading them after
// each one because a body may clobber r6–r9. How deep a body's stack goes is
// what the verifier reports when the program is verified alone
// ("stack depth"), so the layout never guesses. The kernel verifies the
// combined program as it does any other: a wrong layout can only fail to
// load, never run.

// inlineMechanism writes the entry function of every program that
// qualifies into the root (place: planInline, then inlineParts) and calls
// the others, as linkedMechanism does: one kernel program per generation.
type inlineMechanism struct {
	// callAll, when not empty, is why every slot is called: the verifier
	// refused this chain inlined (fallBackToCalls).
	callAll string
	// parts are the inlined slots' entry functions, rewritten for the
	// root, and their other functions (place).
	parts map[*slot]inlinedParts
}

type inlinedParts struct{ body, rest asm.Instructions }

func (*inlineMechanism) kind() Mechanism   { return Inline }
func (*inlineMechanism) needsStacks() bool { return true }

// place inlines every slot it can (planInline) and rewrites the entry
// function of each inlined one for the root.
func (m *inlineMechanism) place(g *generation) error {
	switch {
	case m.callAll != "":
		m.parts = nil
		callEvery(g, m.callAll)
		return nil
	case g.referenceRoot:
		m.parts = nil
		callEvery(g, "called: the reference root calls every slot")
		return nil
	}
	planInline(g)
	m.parts = map[*slot]inlinedParts{}
	for i, s := range g.slots {
		if !s.inlined() {
			continue
		}
		body, rest, err := inlineParts(s, i, g.label(fmt.Sprintf("cont%d", i)))
		if err != nil {
			return &ProgramError{Program: s.Name, Err: fmt.Errorf("%w: %w", ErrLoad, err)}
		}
		m.parts[s] = inlinedParts{body, rest}
	}
	return nil
}

func (m *inlineMechanism) inlined(s *slot) (body, rest asm.Instructions) {
	p := m.parts[s]
	return p.body, p.rest
}

// build loads g as placed. When the verifier refuses a chain with inlined
// slots it returns an *inlineRefusedError, for the executor's
// fallBackToCalls.
func (m *inlineMechanism) build(g *generation) (*ebpf.Program, error) {
	prog, err := buildSpliced(g)
	if err != nil && g.anyInlined() {
		return nil, &inlineRefusedError{err: err}
	}
	return prog, blameUnprivilegedOn(g, err)
}

func (*inlineMechanism) commit(*generation) error { return nil }
func (*inlineMechanism) abort(*generation)        {}
func (*inlineMechanism) cleanup(pinDir, *state)   {}

// inlineRefusedError is the verifier refusing a chain with inlined slots.
// Every program was verified alone and the layout follows the verifier's
// own stack depths, so it refuses the combination (its complexity, say).
type inlineRefusedError struct{ err error }

func (e *inlineRefusedError) Error() string { return e.err.Error() }
func (e *inlineRefusedError) Unwrap() error { return e.err }

// fallBackToCalls is the step of an apply after the verifier refused g's
// inlined chain (refused): g is placed again with every slot called, as
// Linked does, each slot's call reason quoting the verifier, and built
// again.
func fallBackToCalls(g *generation, refused *inlineRefusedError) (*ebpf.Program, error) {
	g.mech = &inlineMechanism{callAll: "called: the verifier refused the inlined chain: " + firstLine(refused.err)}
	if err := g.prepareRoot(); err != nil {
		return nil, err
	}
	return g.mech.build(g)
}

// Stack limits of the kernel's verifier (MAX_BPF_STACK and the 256-byte
// limit of the frames before a subprogram that tail calls).
const (
	maxStack         = 512
	maxStackTailCall = 256
	// rootSaved is what the root keeps on its stack across inlined bodies:
	// the context and the counters pointer.
	rootSaved = 16
)

// Placements of a program in a generation (ProgramStatus.Placement).
const (
	PlacementInline   = "inline"
	PlacementCall     = "call"
	PlacementFreplace = "freplace"
)

// inlineDepth returns the frame offset below which the root keeps its saved
// registers: the deepest inlined body's stack, rounded up to 8 bytes.
func (g *generation) inlineDepth() int {
	m := 0
	for _, s := range g.slots {
		if s.inlined() && s.frames[0] > m {
			m = s.frames[0]
		}
	}
	return (m + 7) &^ 7
}

// anyInlined reports whether some slot of g is inlined.
func (g *generation) anyInlined() bool {
	for _, s := range g.slots {
		if s.inlined() {
			return true
		}
	}
	return false
}

// planInline decides, for a generation of the Inline mechanism, which slots
// are inlined and which are called, with the reason for each call. It
// inlines every program it can, then, while the combined program would break
// one of the verifier's stack limits, calls the inlined program with the
// deepest stack instead.
func planInline(g *generation) {
	for _, s := range g.slots {
		s.placed, s.callReason = PlacementCall, ""
		switch {
		case entryTailCalls(s.insns):
			s.callReason = reasonTailCall
		case s.frames == nil:
			s.callReason = "called: " + cmp.Or(s.stackUnknown, "its stack depths are unknown")
		case s.graph == nil:
			s.callReason = "called: its functions could not be analysed"
		default:
			s.placed = PlacementInline
		}
	}
	for {
		bad := g.stackViolation()
		if bad == "" {
			return
		}
		var deepest *slot
		for _, s := range g.slots {
			if s.inlined() && (deepest == nil || s.frames[0] > deepest.frames[0]) {
				deepest = s
			}
		}
		if deepest == nil {
			return // nothing left to call instead; the verifier decides
		}
		deepest.placed = PlacementCall
		deepest.callReason = fmt.Sprintf("called: inlining its %d-byte stack would exceed %s", deepest.frames[0], bad)
	}
}

// reasonTailCall is why a program whose entry function tail calls is
// called. A tail call replaces the frame it is made from: inlined, that
// frame would be the root's, and the target's verdict would leave the chain
// uncounted, skipping every later program. Called (as under linked and
// freplace), the target replaces only the slot's frame, and its verdict
// returns to the chain, counted, with proceed-on applied — what a
// call-based chain such as libxdp's gives. Tail calls in its other
// functions replace only theirs, so they do not keep a program from being
// inlined.
const reasonTailCall = "called: its entry function tail calls, and a tail call must replace only its slot, not the chain"

// entryTailCalls reports whether the entry function of insns (entry
// function first) calls bpf_tail_call.
func entryTailCalls(insns asm.Instructions) bool {
	funcs := splitFunctions(insns)
	if len(funcs) == 0 {
		return false
	}
	for _, ins := range funcs[0].insns {
		if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnTailCall) {
			return true
		}
	}
	return false
}

// stackViolation returns which stack limit the combined program of g would
// break with its current placements, or "".
func (g *generation) stackViolation() string {
	root := 4 // the counters key
	if g.anyInlined() {
		root = g.inlineDepth() + rootSaved
	}
	root = frameSize(g.observeDepth(root))
	for _, s := range g.slots {
		if s.graph == nil {
			continue // not known; the verifier has the last word
		}
		var deep, tail int
		if s.inlined() {
			deep, tail = s.graph.calleeDepth(0), s.graph.calleeTailBefore(0)
		} else {
			deep, tail = s.graph.depth(0), s.graph.tailBefore(0)
		}
		if root+deep > maxStack {
			return fmt.Sprintf("the kernel's %d-byte stack limit with the call chain of %q", maxStack, s.Name)
		}
		if tail >= 0 && root+tail >= maxStackTailCall {
			return fmt.Sprintf("the kernel's %d-byte limit on frames before a tail call in %q", maxStackTailCall, s.Name)
		}
	}
	return ""
}

// frameSize is a frame's share of the stack as the kernel counts it.
func frameSize(depth int) int {
	return (max(depth, 1) + 31) &^ 31
}

// callGraph is a program's functions (entry first, in instruction order, as
// the kernel numbers subprograms) with their stack depths and calls.
type callGraph struct {
	frames  []int
	callees [][]int
	tail    []bool // the function itself tail calls
}

// newCallGraph analyses insns (entry function first) given the stack depth
// of each function as the verifier reported it.
func newCallGraph(insns asm.Instructions, frames []int) (*callGraph, error) {
	funcs := splitFunctions(insns)
	if len(funcs) != len(frames) {
		return nil, fmt.Errorf("%d functions but %d stack depths", len(funcs), len(frames))
	}
	index := make(map[string]int, len(funcs))
	for i, f := range funcs {
		index[f.name] = i
	}
	g := &callGraph{frames: frames, callees: make([][]int, len(funcs)), tail: make([]bool, len(funcs))}
	for i, f := range funcs {
		for _, ins := range f.insns {
			if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnTailCall) {
				g.tail[i] = true
			}
			if ins.IsFunctionReference() {
				c, ok := index[ins.Reference()]
				if !ok {
					return nil, fmt.Errorf("reference to unknown function %q", ins.Reference())
				}
				g.callees[i] = append(g.callees[i], c)
			}
		}
	}
	return g, nil
}

// depth is the stack the kernel counts for a call of function f: its frame
// and its deepest chain of calls.
func (g *callGraph) depth(f int) int {
	return frameSize(g.frames[f]) + g.calleeDepth(f)
}

// calleeDepth is the deepest chain of calls made by function f.
func (g *callGraph) calleeDepth(f int) int {
	d := 0
	for _, c := range g.callees[f] {
		d = max(d, g.depth(c))
	}
	return d
}

// tailBefore is, over the chains of calls starting with a call of f, the
// most stack the frames before a tail-calling function take; -1 when no
// function of the chains tail calls.
func (g *callGraph) tailBefore(f int) int {
	d := -1
	if g.tail[f] {
		d = 0
	}
	if c := g.calleeTailBefore(f); c >= 0 {
		d = max(d, frameSize(g.frames[f])+c)
	}
	return d
}

// calleeTailBefore is tailBefore over the functions f calls.
func (g *callGraph) calleeTailBefore(f int) int {
	d := -1
	for _, c := range g.callees[f] {
		d = max(d, g.tailBefore(c))
	}
	return d
}

// inlineParts renames a slot's functions for slot n and returns its entry
// function as a body to write into the root, every exit a jump to cont, and
// its other functions.
func inlineParts(s *slot, n int, cont string) (body, rest asm.Instructions, err error) {
	insns, err := renameFunctions(s.insns, fmt.Sprintf("xdpchain_s%d_entry", n), fmt.Sprintf("xdpchain_s%d_", n))
	if err != nil {
		return nil, nil, err
	}
	funcs := splitFunctions(insns)
	body = make(asm.Instructions, 0, len(funcs[0].insns))
	for i, ins := range funcs[0].insns {
		if i == 0 {
			// No longer a function: no symbol, no BTF function.
			ins = btf.WithFuncMetadata(ins.WithSymbol(""), nil)
		}
		if ins.OpCode.JumpOp() == asm.Exit {
			ins = asm.Ja.Label(cont).WithSource(ins.Source())
		}
		body = append(body, ins)
	}
	for _, f := range funcs[1:] {
		rest = append(rest, f.insns...)
	}
	return body, rest, nil
}

// writesReg reports whether an instruction of body may write r: the
// destination of ALU operations and loads, and the registers an atomic
// operation with fetch writes (its source, r0 for a compare-and-exchange).
// Calls write only r0–r5. Anything else unknown counts as a write.
func writesReg(body asm.Instructions, r asm.Register) bool {
	for _, ins := range body {
		op := ins.OpCode
		switch op.Class() {
		case asm.ALUClass, asm.ALU64Class, asm.LdClass, asm.LdXClass:
			if ins.Dst == r {
				return true
			}
		case asm.StXClass:
			if op.Mode() == asm.AtomicMode {
				fetch := ins.Constant&0x01 != 0 // BPF_FETCH
				if fetch && ins.Src == r || ins.Constant == 0xf1 && r == asm.R0 {
					return true
				}
			}
		case asm.StClass, asm.JumpClass, asm.Jump32Class:
		default:
			return true
		}
	}
	return false
}

// errNoStackDepth is returned by stackDepths for a log without the
// verifier's statistics.
var errNoStackDepth = errors.New("no stack depth in the verifier's log")

// stackDepths parses the verifier's statistics line "stack depth 48+0+16":
// the stack depth of each function, in the kernel's order.
func stackDepths(log string) ([]int, error) {
	for _, line := range strings.Split(log, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "stack depth ")
		if !ok {
			continue
		}
		var out []int
		for _, f := range strings.Split(strings.TrimSpace(rest), "+") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > maxStack {
				return nil, fmt.Errorf("unexpected stack depth line %q", line)
			}
			out = append(out, n)
		}
		return out, nil
	}
	return nil, errNoStackDepth
}

// blameUnprivileged names the program that made an unprivileged
// generation's load fail: one of root's own, which passed verification
// alone as root but is refused as unprivileged. Nil if none is.
func blameUnprivileged(g *generation, logs bool) error {
	for _, s := range g.slots {
		if s.Unprivileged || s.alone == nil {
			continue
		}
		if _, _, err := verifyAlone(s, true, logs); err != nil {
			var pe *ProgramError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return &ProgramError{Program: s.Name, Err: fmt.Errorf("the chain holds programs of unprivileged owners, so it is verified as an unprivileged caller's would be (no CAP_PERFMON), and this program is refused that way: %w", err)}
		}
	}
	return nil
}
