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
	// The general path of a slot with a fast path goes out of line, after
	// the fall-through, so that a packet that proceeds runs straight into
	// the next slot; where the root could grow too long for 16-bit jump
	// offsets it stays beside its slot, jumped over.
	var insns, outOfLine asm.Instructions
	cur := &insns
	emit := func(ins ...asm.Instruction) { *cur = append(*cur, ins...) }
	deferGeneral := rootSize(g) < maxJumpSpan
	label := g.label
	next := func(i int) string {
		if i+1 < len(g.slots) {
			return label(fmt.Sprintf("slot%d", i+1))
		}
		return label("fallthrough")
	}
	// With inlined slots the root keeps the context and the counters
	// pointer below the deepest inlined body's stack (inline.go).
	inlined := g.anyInlined()
	unprivileged := g.unprivileged()
	ctxSlot := int16(-(g.inlineDepth() + 8))
	countersSlot := ctxSlot - 8

	// At every slot's start the context is in r6 and this CPU's counters
	// in r7. Calls preserve them; an inlined body that writes one of them
	// (writesReg) has it reloaded from the root's stack after it.
	first := asm.Mov.Reg(regCtx, asm.R1).WithSymbol(rootProgramName).WithSource(entry.Source())
	if fn := btf.FuncMetadata(&entry); fn != nil {
		first = btf.WithFuncMetadata(first, fn)
	}
	emit(first)
	if inlined {
		emit(asm.StoreMem(asm.RFP, ctxSlot, regCtx, asm.DWord))
	}
	emit(g.observeEntry()...) // observe hook (observe_emit.go)

	if g.counters {
		lookup := asm.LoadMapPtr(asm.R1, 0)
		// Associating cannot fail: lookup is a map load.
		_ = lookup.AssociateMap(g.stats)
		// The key (0) is a word on the stack: at -4, or, in an inlined
		// generation, where the counters pointer goes next.
		key := int16(-4)
		if inlined {
			key = countersSlot
		}
		emit(
			asm.StoreImm(asm.RFP, key, 0, asm.Word),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, int32(key)),
			lookup,
			asm.FnMapLookupElem.Call(),
			asm.Mov.Reg(regCounters, asm.R0),
		)
		// Spilled before the null check, which the verifier applies to
		// the spilled copy too.
		if inlined {
			emit(asm.StoreMem(asm.RFP, countersSlot, regCounters, asm.DWord))
		}
		// Element 0 of an array always exists; the check is for the
		// verifier.
		emit(
			asm.JNE.Imm(regCounters, 0, next(-1)),
			asm.Mov.Imm(asm.R0, int32(g.fallthrough_)),
			asm.Return(),
		)
	}

	for i, s := range g.slots {
		count := label(fmt.Sprintf("count%d", i))
		rare := label(fmt.Sprintf("rare%d", i))
		start := asm.Mov.Reg(asm.R1, regCtx).WithSymbol(label(fmt.Sprintf("slot%d", i)))
		// The column (r1) is computed only when counters need it.
		column := func(ins ...asm.Instruction) []asm.Instruction {
			if g.counters {
				return ins
			}
			return nil
		}
		// The fast path: a slot that proceeds on one verdict (the
		// common "pass") goes on at once. It counts nothing: the
		// packets it passes on are derived from where they end
		// (stats.go, countingOnce); every other verdict takes the
		// general path below and is counted there.
		var fast []asm.Instruction
		if pv, ok := fastVerdict(s.Program); ok && !g.observesDecision(i) {
			fast = append(fast, asm.JNE.Imm32(asm.R0, int32(pv), label(fmt.Sprintf("slow%d", i))))
			if !deferGeneral {
				fast = append(fast, asm.Ja.Label(next(i)))
			}
		}
		check := asm.JGT.Imm32(asm.R0, int32(Redirect), rare)
		if fast != nil {
			check = check.WithSymbol(label(fmt.Sprintf("slow%d", i)))
		}
		var restore []asm.Instruction
		if s.inlined() && writesReg(s.body, regCtx) {
			restore = append(restore, asm.LoadMem(regCtx, asm.RFP, ctxSlot, asm.DWord))
		}
		if s.inlined() && g.counters && writesReg(s.body, regCounters) {
			restore = append(restore, asm.LoadMem(regCounters, asm.RFP, countersSlot, asm.DWord))
		}
		restore = append(restore, g.observeBody(i)...) // observe hook
		cont := append(restore, append(fast, check)...)
		cont[0] = cont[0].WithSymbol(label(fmt.Sprintf("cont%d", i)))
		emit(start)
		emit(g.observeInput(i)...) // observe hook
		if s.inlined() {
			emit(s.body...)
		} else {
			emit(asm.Call.Label(slotSymbol(i)))
		}
		emit(cont[:len(cont)-1]...)
		if fast != nil && deferGeneral {
			cur = &outOfLine
		}
		emit(cont[len(cont)-1])
		emit(column(asm.Mov.Reg32(asm.R1, asm.R0))...)
		if allowed := s.Allowed; allowed != 0 && allowed != AllVerdicts {
			emit(
				asm.Mov.Imm32(asm.R2, 1),
				asm.LSh.Reg32(asm.R2, asm.R0),
				asm.JSet.Imm32(asm.R2, int32(allowed), count),
			)
			emit(column(asm.Mov.Imm32(asm.R1, colDenied))...)
			emit(asm.Mov.Imm32(asm.R0, int32(Aborted)))
		}
		// Counting, then the proceed-on decision; count labels the first
		// of them (the allowed check and the rare path land there).
		var tail []asm.Instruction
		counted := ""
		if g.counters && !unprivileged {
			off := int16(s.counter * 8 * 8)
			tail = append(tail,
				asm.LSh.Imm(asm.R1, 3),
				asm.Mov.Reg(asm.R2, regCounters),
				asm.Add.Reg(asm.R2, asm.R1),
				asm.LoadMem(asm.R3, asm.R2, off, asm.DWord),
				asm.Add.Imm(asm.R3, 1),
				asm.StoreMem(asm.R2, off, asm.R3, asm.DWord),
			)
		} else if g.counters {
			// For an unprivileged caller's verifier, a counter pointer
			// offset by a column that differs between paths is refused
			// ("pointer arithmetic ... prohibited for !root"): select
			// the column by comparisons, each counted at a constant
			// offset.
			counted = label(fmt.Sprintf("counted%d", i))
			inc := func(col int) string { return label(fmt.Sprintf("inc%d_%d", i, col)) }
			tail = append(tail, asm.Mov.Reg(asm.R2, regCounters))
			for col := 0; col < colDenied; col++ {
				tail = append(tail, asm.JEq.Imm32(asm.R1, int32(col), inc(col)))
			}
			for col := colDenied; col >= 0; col-- {
				off := int16(s.counter*8*8) + int16(col)*8
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
			decide = append(decide, asm.Ja.Label(next(i)))
		} else {
			decide = append(decide, verdictIn(s.ProceedOn, next(i))...)
			decide = append(decide, asm.Return())
		}
		if counted != "" {
			decide[0] = decide[0].WithSymbol(counted)
		}
		tail = append(tail, decide...)
		tail[0] = tail[0].WithSymbol(count)
		emit(tail...)

		// The rare path, beside its slot so that no jump spans other
		// slots (inlined bodies can be long): the empty-slot sentinel
		// (counted in colEmpty, for the derived counts before it) or an
		// invalid value.
		empty := next(i)
		if g.counters {
			empty = label(fmt.Sprintf("empty%d", i))
		}
		emit(asm.JEq.Imm32(asm.R0, slotEmpty, empty).WithSymbol(rare))
		emit(column(asm.Mov.Imm32(asm.R1, colInvalid))...)
		emit(
			asm.Mov.Imm32(asm.R0, int32(Aborted)),
			asm.Ja.Label(count),
		)
		if g.counters {
			off := int16(s.counter*8*8) + colEmpty*8
			emit(
				asm.LoadMem(asm.R3, regCounters, off, asm.DWord).WithSymbol(empty),
				asm.Add.Imm(asm.R3, 1),
				asm.StoreMem(regCounters, off, asm.R3, asm.DWord),
				asm.Ja.Label(next(i)),
			)
		}
		cur = &insns
	}

	ft := []asm.Instruction{}
	if g.counters {
		off := int16(g.ftColumn * 8) // row 0
		ft = append(ft,
			asm.LoadMem(asm.R3, regCounters, off, asm.DWord),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(regCounters, off, asm.R3, asm.DWord),
		)
	}
	ft = append(ft, asm.Mov.Imm(asm.R0, int32(g.fallthrough_)), asm.Return())
	ft[0] = ft[0].WithSymbol(label("fallthrough"))
	emit(ft...)
	return append(insns, outOfLine...)
}

// maxJumpSpan bounds the root's length for out-of-line general paths:
// every jump between a slot and its general path then fits a jump's 16-bit
// offset.
const maxJumpSpan = 30000

// rootSize is an upper bound on the length of g's emitted root: the
// inlined bodies and the per-slot code.
func rootSize(g *generation) int {
	n := 32 + g.observeSize()
	for _, s := range g.slots {
		n += 64 + len(s.body)
		for _, ins := range s.body {
			if ins.OpCode.IsDWordLoad() {
				n++ // two raw instructions
			}
		}
	}
	return n
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
