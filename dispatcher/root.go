package dispatcher

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Register use of the emitted root. Calls preserve them; after an inlined
// body the root reloads them from its stack.
const (
	regCtx      = asm.R6 // the packet context
	regCounters = asm.R7 // this CPU's counters (struct xdpchain_counters *)
)

// emitRoot writes the root function of a generation with its
// configuration folded into the instructions: the slot count, each slot's
// proceed-on and allowed masks, counter row and flags become immediates and
// code layout, so a packet executes only the checks its chain needs. It
// implements exactly the semantics of xdpchain_root in bpf/dispatcher.c
// (the reference, run against it by the tests):
//
//	ret = slot_i(ctx)
//	ret == 31 (freplace stub)      → next slot, counted empty
//	ret > XDP_REDIRECT             → counted invalid, verdict XDP_ABORTED
//	ret not in allowed_i           → counted denied, verdict XDP_ABORTED
//	otherwise                      → counted in ret's column, unless the
//	                                 slot is derived and ret is the verdict
//	                                 it proceeds on (stats.go)
//	shadow_i, or verdict in proceed_i → next slot; else return the verdict
//	after the last slot            → fall-through verdict, counted in row 0,
//	                                 column g.ftColumn
//
// So a packet that crosses derived slots is counted once, where it ends.
// Counters are one per-CPU element looked up once per packet. entry is the
// C root's first instruction, whose BTF function and line information the
// emitted root takes over.
func emitRoot(g *generation, entry asm.Instruction) asm.Instructions {
	if g.dualRoot() {
		return g.emitDualRoot(entry) // a sampled profile (observe_emit.go)
	}
	e := newRootEmitter(g)
	e.prologue(entry)
	for i := range g.slots {
		e.slot(i)
	}
	e.fallthrough_()
	return append(e.insns, e.outOfLine...)
}

// rootEmitter writes one emitted root: a prologue, each slot, and the
// fall-through.
type rootEmitter struct {
	g *generation
	// insns is the root in order; outOfLine the slots' general paths,
	// written after the fall-through (deferGeneral); cur the one written.
	insns, outOfLine asm.Instructions
	cur              *asm.Instructions
	// deferGeneral: the general path of a slot with a fast path goes out
	// of line, after the fall-through, so that a packet that proceeds
	// runs straight into the next slot; where the root could grow too
	// long for 16-bit jump offsets it stays beside its slot, jumped over.
	deferGeneral bool
	// inlined: some slot is inlined, so the root keeps its stack slots
	// below the deepest inlined body's stack (inline.go): ctxSlot and
	// countersSlot, where it spills the context and the counters pointer
	// when some inlined body writes r6 (spillCtx) or r7 (spillCounters)
	// and reloads them after that body (a store each per packet only
	// where a body needs it).
	inlined                 bool
	ctxSlot, countersSlot   int16
	spillCtx, spillCounters bool
}

func newRootEmitter(g *generation) *rootEmitter {
	e := &rootEmitter{g: g, deferGeneral: rootSize(g) < maxJumpSpan, inlined: g.anyInlined()}
	e.cur = &e.insns
	e.ctxSlot = int16(-(g.inlineDepth() + 8))
	e.countersSlot = e.ctxSlot - 8
	for _, s := range g.slots {
		if s.inlined() {
			e.spillCtx = e.spillCtx || writesReg(g.body(s), regCtx)
			e.spillCounters = e.spillCounters || g.counters && writesReg(g.body(s), regCounters)
		}
	}
	return e
}

func (e *rootEmitter) emit(ins ...asm.Instruction) { *e.cur = append(*e.cur, ins...) }

// label names slot i's label of kind ("slot", "count", ...).
func (e *rootEmitter) label(kind string, i int) string {
	return e.g.label(fmt.Sprintf("%s%d", kind, i))
}

// next is the label after slot i: the next slot's, or the fall-through's.
func (e *rootEmitter) next(i int) string {
	if i+1 < len(e.g.slots) {
		return e.label("slot", i+1)
	}
	return e.g.label("fallthrough")
}

// column returns ins when counters need the column (r1), else nothing.
func (e *rootEmitter) column(ins ...asm.Instruction) []asm.Instruction {
	if e.g.counters {
		return ins
	}
	return nil
}

// prologue: at every slot's start the context is in r6 and this CPU's
// counters in r7. Calls preserve them; an inlined body that writes one of
// them (writesReg) has it reloaded from the root's stack after it.
func (e *rootEmitter) prologue(entry asm.Instruction) {
	g := e.g
	first := asm.Mov.Reg(regCtx, asm.R1).WithSymbol(rootProgramName).WithSource(entry.Source())
	if fn := btf.FuncMetadata(&entry); fn != nil {
		first = btf.WithFuncMetadata(first, fn)
	}
	e.emit(first)
	if e.spillCtx {
		e.emit(asm.StoreMem(asm.RFP, e.ctxSlot, regCtx, asm.DWord))
	}
	e.emit(g.observeEntry()...) // observe hook (observe_emit.go)
	if !g.counters {
		return
	}
	lookup := asm.LoadMapPtr(asm.R1, 0)
	// Associating cannot fail: lookup is a map load.
	_ = lookup.AssociateMap(g.stats)
	// The key (0) is a word on the stack: at -4, or, in an inlined
	// generation, where the counters pointer goes next.
	key := int16(-4)
	if e.inlined {
		key = e.countersSlot
	}
	e.emit(
		asm.StoreImm(asm.RFP, key, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		lookup,
		asm.FnMapLookupElem.Call(),
		asm.Mov.Reg(regCounters, asm.R0),
	)
	// Spilled before the null check, which the verifier applies to the
	// spilled copy too.
	if e.spillCounters {
		e.emit(asm.StoreMem(asm.RFP, e.countersSlot, regCounters, asm.DWord))
	}
	// Element 0 of an array always exists; the check is for the verifier.
	e.emit(
		asm.JNE.Imm(regCounters, 0, e.next(-1)),
		asm.Mov.Imm(asm.R0, int32(g.fallthrough_)),
		asm.Return(),
	)
}

// slot writes slot i: its input, its body or call, the continuation (fast
// path, verdict checks), counting, the proceed-on decision and the rare
// path.
func (e *rootEmitter) slot(i int) {
	g, s := e.g, e.g.slots[i]
	cont := e.continuation(i)
	e.emit(asm.Mov.Reg(asm.R1, regCtx).WithSymbol(e.label("slot", i)))
	e.emit(g.observeInput(i)...) // observe hook
	if s.inlined() {
		e.emit(g.body(s)...)
	} else {
		e.emit(asm.Call.Label(slotSymbol(i)))
	}
	e.emit(cont[:len(cont)-1]...)
	if _, fast := e.fastPath(i); fast && e.deferGeneral {
		e.cur = &e.outOfLine
	}
	e.emit(cont[len(cont)-1])
	e.emit(e.column(asm.Mov.Reg32(asm.R1, asm.R0))...)
	if allowed := s.Allowed; allowed != 0 && allowed != AllVerdicts {
		e.emit(
			asm.Mov.Imm32(asm.R2, 1),
			asm.LSh.Reg32(asm.R2, asm.R0),
			asm.JSet.Imm32(asm.R2, int32(allowed), e.label("count", i)),
		)
		e.emit(e.column(asm.Mov.Imm32(asm.R1, colDenied))...)
		e.emit(asm.Mov.Imm32(asm.R0, int32(Aborted)))
	}
	e.emit(e.countAndDecide(i)...)
	e.rare(i)
	e.cur = &e.insns
}

// fastPath returns the fast path of slot i: a slot that proceeds on one
// verdict (the common "pass") goes on at once. It counts nothing: the
// packets it passes on are derived from where they end (stats.go,
// countingOnce); every other verdict takes the general path and is
// counted there.
func (e *rootEmitter) fastPath(i int) ([]asm.Instruction, bool) {
	pv, ok := fastVerdict(e.g.slots[i].Program)
	if !ok || e.g.observesDecision(i) {
		return nil, false
	}
	fast := []asm.Instruction{asm.JNE.Imm32(asm.R0, int32(pv), e.label("slow", i))}
	if !e.deferGeneral {
		fast = append(fast, asm.Ja.Label(e.next(i)))
	}
	return fast, true
}

// continuation is what follows slot i's body or call, labelled cont<i>
// (where an inlined body's exits jump): the registers the body clobbered
// reloaded, the fast path, and the check for a value beyond XDP_REDIRECT
// (its last instruction, which starts the general path).
func (e *rootEmitter) continuation(i int) []asm.Instruction {
	g, s := e.g, e.g.slots[i]
	fast, _ := e.fastPath(i)
	check := asm.JGT.Imm32(asm.R0, int32(Redirect), e.label("rare", i))
	if fast != nil {
		check = check.WithSymbol(e.label("slow", i))
	}
	var restore []asm.Instruction
	if s.inlined() && writesReg(g.body(s), regCtx) {
		restore = append(restore, asm.LoadMem(regCtx, asm.RFP, e.ctxSlot, asm.DWord))
	}
	if s.inlined() && g.counters && writesReg(g.body(s), regCounters) {
		restore = append(restore, asm.LoadMem(regCounters, asm.RFP, e.countersSlot, asm.DWord))
	}
	restore = append(restore, g.observeBody(i)...) // observe hook
	cont := append(restore, append(fast, check)...)
	cont[0] = cont[0].WithSymbol(e.label("cont", i))
	return cont
}

// countAndDecide counts slot i's verdict (r0) in its column (r1), then
// goes on or returns it; labelled count<i>, where the allowed check and the
// rare path land.
func (e *rootEmitter) countAndDecide(i int) []asm.Instruction {
	g, s := e.g, e.g.slots[i]
	var tail []asm.Instruction
	counted := ""
	if g.counters && !g.unprivileged() {
		off := counterOffset(s.counter, 0)
		tail = append(tail,
			asm.LSh.Imm(asm.R1, counterShift),
			asm.Mov.Reg(asm.R2, regCounters),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.LoadMem(asm.R3, asm.R2, off, asm.DWord),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(asm.R2, off, asm.R3, asm.DWord),
		)
	} else if g.counters {
		// For an unprivileged caller's verifier, a counter pointer offset
		// by a column that differs between paths is refused ("pointer
		// arithmetic ... prohibited for !root"): select the column by
		// comparisons, each counted at a constant offset.
		counted = e.label("counted", i)
		inc := func(col int) string { return g.label(fmt.Sprintf("inc%d_%d", i, col)) }
		tail = append(tail, asm.Mov.Reg(asm.R2, regCounters))
		for col := 0; col < colDenied; col++ {
			tail = append(tail, asm.JEq.Imm32(asm.R1, int32(col), inc(col)))
		}
		for col := colDenied; col >= 0; col-- {
			off := counterOffset(s.counter, col)
			tail = append(tail,
				asm.LoadMem(asm.R3, asm.R2, off, asm.DWord).WithSymbol(inc(col)),
				asm.Add.Imm(asm.R3, 1),
				asm.StoreMem(asm.R2, off, asm.R3, asm.DWord),
			)
			if col > 0 {
				tail = append(tail, asm.Ja.Label(counted))
			}
		}
	}
	decide := g.observeDecision(i) // observe hook
	if s.Shadow {
		decide = append(decide, asm.Ja.Label(e.next(i)))
	} else {
		decide = append(decide, verdictIn(s.ProceedOn, e.next(i))...)
		decide = append(decide, asm.Return())
	}
	if counted != "" {
		decide[0] = decide[0].WithSymbol(counted)
	}
	tail = append(tail, decide...)
	tail[0] = tail[0].WithSymbol(e.label("count", i))
	return tail
}

// rare writes slot i's rare path, beside its slot so that no jump spans
// other slots (inlined bodies can be long): the empty-slot sentinel
// (counted in colEmpty, for the derived counts before it) or an invalid
// value.
func (e *rootEmitter) rare(i int) {
	g, s := e.g, e.g.slots[i]
	empty := e.next(i)
	if g.counters {
		empty = e.label("empty", i)
	}
	e.emit(asm.JEq.Imm32(asm.R0, slotEmpty, empty).WithSymbol(e.label("rare", i)))
	e.emit(e.column(asm.Mov.Imm32(asm.R1, colInvalid))...)
	e.emit(
		asm.Mov.Imm32(asm.R0, int32(Aborted)),
		asm.Ja.Label(e.label("count", i)),
	)
	if g.counters {
		off := counterOffset(s.counter, colEmpty)
		e.emit(
			asm.LoadMem(asm.R3, regCounters, off, asm.DWord).WithSymbol(empty),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(regCounters, off, asm.R3, asm.DWord),
			asm.Ja.Label(e.next(i)),
		)
	}
}

// fallthrough_ writes the end of the chain: counted in row 0, column
// g.ftColumn, and the fall-through verdict.
func (e *rootEmitter) fallthrough_() {
	g := e.g
	ft := []asm.Instruction{}
	if g.counters {
		off := counterOffset(0, int(g.ftColumn))
		ft = append(ft,
			asm.LoadMem(asm.R3, regCounters, off, asm.DWord),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(regCounters, off, asm.R3, asm.DWord),
		)
	}
	ft = append(ft, asm.Mov.Imm(asm.R0, int32(g.fallthrough_)), asm.Return())
	ft[0] = ft[0].WithSymbol(g.label("fallthrough"))
	e.emit(ft...)
}

// maxJumpSpan bounds the root's length for out-of-line general paths:
// every jump between a slot and its general path then fits a jump's 16-bit
// offset.
const maxJumpSpan = 30000

// rootSize is an upper bound on the length of g's emitted root: the
// inlined bodies and the per-slot code (chainSize), and the rest.
func rootSize(g *generation) int {
	return 32 + g.observeSize() + chainSize(g)
}

// fastVerdict returns the one verdict on which p proceeds, when the root
// may take the fast path for it: p proceeds on exactly that verdict, may
// return it, and is no shadow.
func fastVerdict(p Program) (Verdict, bool) {
	if p.Shadow {
		return 0, false
	}
	for v := Aborted; v <= Redirect; v++ {
		if p.ProceedOn == VerdictSet(1)<<v {
			allowed := p.Allowed == 0 || p.Allowed&(VerdictSet(1)<<v) != 0
			return v, allowed
		}
	}
	return 0, false
}

// verdictIn jumps to target when the verdict in r0 (at most XDP_REDIRECT)
// is in set: one comparison when set holds one verdict (the common
// proceed-on "pass"), else a bit test.
func verdictIn(set VerdictSet, target string) []asm.Instruction {
	for v := Aborted; v <= Redirect; v++ {
		if set == VerdictSet(1)<<v {
			return []asm.Instruction{asm.JEq.Imm32(asm.R0, int32(v), target)}
		}
	}
	return []asm.Instruction{
		asm.Mov.Imm32(asm.R2, 1),
		asm.LSh.Reg32(asm.R2, asm.R0),
		asm.JSet.Imm32(asm.R2, int32(set), target),
	}
}

// rootFunctions returns the C object's root program split into its entry
// function and its slot stubs.
func rootFunctions(ps *ebpf.ProgramSpec) (entry function, stubs []function) {
	funcs := splitFunctions(ps.Instructions)
	return funcs[0], funcs[1:]
}
