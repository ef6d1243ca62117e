package dispatcher

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// The probes of an observed generation, emitted into the root by four hooks
// of emitRoot (root.go): observeEntry at the root's start, observeInput at
// each slot's start (before its body), observeBody right after its body
// (the program's verdict in r0) and observeDecision after the slot's
// verdict is counted (the verdict the chain acts on in r0). A plain
// generation's hooks emit nothing. The probes use r1–r5, r8 and r0 (saved
// and restored around them) and a stack area below the root's own slots;
// r6 (context) and r7 (counters) survive their helper calls.
//
// Profile: one timestamp on the stack, taken at the root's start on a
// sampled packet (0 otherwise; a sampled profile's root holds two copies
// of the chain, see emitDualRoot, and only the timed one has the hooks
// below); each timed hook reads the clock, adds the
// time since the last timestamp to a row of the per-CPU histogram (the
// program's counter row after its body, row 0 — the root — before it) and
// keeps the new timestamp. A row is {packets, nanoseconds, 32 log2
// buckets}; the root's row counts a packet once, its time and buckets for
// each gap (from the root's start to the first slot, between slots).
//
// Capture and trace: bpf_perf_event_output with a 32-byte record
// (eventMeta) followed, for packet records, by up to snaplen bytes of the
// packet, copied by the kernel (the flags' upper 32 bits). A full buffer
// drops the record and the reader counts it; the data path never waits.

// Record kinds of the events arrays.
const (
	eventInput    = 1 // packet bytes at a slot's input
	eventOutput   = 2 // packet bytes at a slot's output, with its verdict
	eventDecision = 3 // a slot's verdict (trace), no bytes
)

// Layout of an event's 32-byte record (little endian, the host's order):
//
//	0  u32 kind
//	4  u16 slot, u16 counter row
//	8  u32 verdict (output, decision)
//	12 u8 flags (1 shadow, 2 last slot), u8 fall-through verdict, u16 proceed-on set
//	16 u32 packet length
//	20 u32 bytes copied
//	24 u64 bpf_ktime_get_ns
const (
	eventMetaSize   = 32
	eventFlagShadow = 1
	eventFlagLast   = 2
)

// Profile histogram rows: row 0 is the root's own time, row i the program
// whose counter row is i.
const (
	profileBuckets = 32
	profileRowSize = 8 * (2 + profileBuckets)
	profileRows    = maxCounters + 1
)

// observeStack is the stack an observed root needs below its own slots
// (root ends at depth d): the timestamp, the saved verdict, the map key,
// the event record and the timed copy's turn (spreading).
const observeStack = 8 + 8 + 8 + eventMetaSize + 8

// observeDepth returns the root frame's depth with the observation area,
// given its depth d without.
func (g *generation) observeDepth(d int) int {
	if g.obs == nil {
		return d
	}
	return max(d, 8) + observeStack
}

// Stack offsets of the observation area.
func (g *generation) obsTime() int16 {
	if g.anyInlined() {
		return int16(-(g.inlineDepth() + rootSaved + 8))
	}
	return -16
}
func (g *generation) obsVerdict() int16 { return g.obsTime() - 8 }
func (g *generation) obsKey() int16     { return g.obsTime() - 16 }
func (g *generation) obsMeta() int16    { return g.obsTime() - 16 - eventMetaSize }
func (g *generation) obsTurn() int16    { return g.obsMeta() - 8 }

// Spreading. A timed packet of a dual root is timed at one place, its
// turn, drawn at the timed copy's start (bpf_get_prandom_u32 modulo the
// timed slots + 1): turn j < k times only the j-th timed slot's body (two
// clock reads), turn k times the whole chain as a root of one copy does
// (every timed body and the root's gaps between them: 2k reads). On
// kvm-clock a read costs about 25 ns, so a packet timed everywhere costs
// 60 ns per slot; spread, a timed packet costs (2k + 2k)/(k+1) reads on
// average, under 4 however long the chain. Each program is then timed on
// one timed packet in k+1 (the profile's Packets count them), and the
// root's row on the packets of turn k. A root of one copy (no spreading,
// see dualFits) times every profiled slot of a sampled packet.
//
// The timed copy runs rarely, so its code and its branches are cold when
// it does: a conditional branch the CPU has not seen is predicted not
// taken, and a taken one costs a misprediction. So a slot whose turn it
// is not falls through its hooks (a load and two comparisons not taken
// at its input, a load and one at its body's end), and the timing itself
// is out of line (g.obs.cold, after the timed copy), jumping back.

// spreads reports whether the emission is of a timed copy that spreads.
func (g *generation) spreads() bool {
	return g.obs != nil && g.obs.pass == passTimed && g.timedSlots() > 0
}

// timedSlots counts the slots g times.
func (g *generation) timedSlots() int {
	k := 0
	for _, s := range g.slots {
		if g.obs.timed(s) {
			k++
		}
	}
	return k
}

// turnOf returns slot i's turn: its index among the timed slots.
func (g *generation) turnOf(i int) int32 {
	j := int32(0)
	for _, s := range g.slots[:i] {
		if g.obs.timed(s) {
			j++
		}
	}
	return j
}

// observesDecision reports whether slot i's decision is observed: then its
// fast path is not taken, so that every verdict passes the hook.
func (g *generation) observesDecision(i int) bool {
	if g.obs == nil {
		return false
	}
	return len(g.obs.traces()) > 0 || len(g.obs.capturesAt(i, g.slots[i], AtOutput)) > 0
}

// observeEntry starts a profiled packet: the area's timestamp is 0 (not
// timed) until slot 0's input hook samples it. A dual root needs none:
// only its timed copy reads the timestamp, which it sets first; nor does
// an observation without a profile, which never reads it.
func (g *generation) observeEntry() []asm.Instruction {
	if g.obs == nil || g.obs.pass == passPlain || g.obs.profile == nil {
		return nil
	}
	return []asm.Instruction{
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, g.obsTime(), asm.R1, asm.DWord),
	}
}

// sampleClock is where a profile that samples keeps its per-CPU packet
// clock: the counters element's row 0 (fall-through), column colEmpty,
// which no verdict uses and nothing reads.
var sampleClock = counterOffset(0, colEmpty)

// observeInput runs at slot i's start, before its body: captures at its
// input (and a trace's packet record); then, at slot 0, whether the packet
// is timed (one in the profile's sample) and its first timestamp; at a
// later timed slot, the root's time since the last slot's end (when every
// slot is timed) and a new timestamp. It ends with r1 = context, as the
// body expects.
func (g *generation) observeInput(i int) []asm.Instruction {
	if g.obs == nil {
		return nil
	}
	s := g.slots[i]
	var out []asm.Instruction
	for j, e := range g.obs.capturesAt(i, s, AtInput) {
		out = append(out, g.emitEvent(i, e, eventInput, fmt.Sprintf("in%d_%d", i, j))...)
	}
	if g.obs.pass == passPlain {
		// The dual root's plain copy: the captures, and at slot 0 the
		// sample check, which leaves r1 alone.
		if len(out) > 0 {
			out = append(out, asm.Mov.Reg(asm.R1, regCtx))
		}
		if i == 0 && g.obs.profile != nil {
			out = append(out, g.emitDualSample(g.timedName(g.label("obs_timed")))...)
		}
		return out
	}
	done := g.label(fmt.Sprintf("obs_in%d", i))
	switch {
	case g.obs.profile == nil:
	case i == 0 && g.obs.pass == passTimed:
		// The timed copy starts here, entered from the plain copy's
		// sample check (its captures ran there): the clock starts
		// over, and the packet's turn is drawn.
		start := asm.FnGetPrandomU32.Call()
		if g.counters {
			out = append(out,
				asm.Mov.Imm(asm.R1, int32(g.obs.sample-1)).WithSymbol(g.label("obs_timed")),
				asm.StoreMem(regCounters, sampleClock, asm.R1, asm.DWord),
				start,
			)
		} else {
			out = append(out, start.WithSymbol(g.label("obs_timed")))
		}
		k := int32(g.timedSlots())
		stamp := g.label("obs_stamp0")
		out = append(out,
			asm.Mod.Imm(asm.R0, k+1),
			asm.StoreMem(asm.RFP, g.obsTurn(), asm.R0, asm.DWord),
			asm.Mov.Imm(asm.R1, 0),
			asm.StoreMem(asm.RFP, g.obsTime(), asm.R1, asm.DWord),
			asm.JEq.Imm(asm.R0, k, stamp),
		)
		if g.obs.timed(s) {
			out = append(out, asm.JEq.Imm(asm.R0, 0, stamp))
		}
		g.obs.cold = append(g.obs.cold,
			asm.FnKtimeGetNs.Call().WithSymbol(stamp),
			asm.StoreMem(asm.RFP, g.obsTime(), asm.R0, asm.DWord),
			asm.Ja.Label(done),
		)
	case i == 0:
		out = append(out, g.emitSample(done)...)
		out = append(out,
			asm.FnKtimeGetNs.Call(),
			asm.StoreMem(asm.RFP, g.obsTime(), asm.R0, asm.DWord),
		)
	case !g.obs.timed(s):
	default:
		var timing asm.Instructions
		if g.obs.profiled == nil {
			timing = g.emitTiming(0, i == 1, done, done)
		} else {
			timing = asm.Instructions{
				asm.LoadMem(asm.R1, asm.RFP, g.obsTime(), asm.DWord),
				asm.JEq.Imm(asm.R1, 0, done),
				asm.FnKtimeGetNs.Call(),
				asm.StoreMem(asm.RFP, g.obsTime(), asm.R0, asm.DWord),
			}
		}
		if !g.spreads() {
			out = append(out, timing...)
			break
		}
		// Spread: this slot's turn starts the clock, turn k times as
		// a root of one copy does, both out of line; any other turn
		// falls through.
		stamp := g.label(fmt.Sprintf("obs_stamp%d", i))
		every := g.label(fmt.Sprintf("obs_every%d", i))
		out = append(out,
			asm.LoadMem(asm.R1, asm.RFP, g.obsTurn(), asm.DWord),
			asm.JEq.Imm(asm.R1, g.turnOf(i), stamp),
			asm.JEq.Imm(asm.R1, int32(g.timedSlots()), every),
		)
		timing[0] = timing[0].WithSymbol(every)
		g.obs.cold = append(g.obs.cold, timing...)
		g.obs.cold = append(g.obs.cold,
			asm.Ja.Label(done),
			asm.FnKtimeGetNs.Call().WithSymbol(stamp),
			asm.StoreMem(asm.RFP, g.obsTime(), asm.R0, asm.DWord),
			asm.Ja.Label(done),
		)
	}
	if len(out) == 0 {
		return nil // r1 is still the context: no landing
	}
	return append(out, asm.Mov.Reg(asm.R1, regCtx).WithSymbol(done))
}

// emitSample jumps to skip unless the packet is one of the profile's
// sample: with counters, a per-CPU packet clock counting 0..sample-1
// (sampleClock); without, bpf_get_prandom_u32.
func (g *generation) emitSample(skip string) []asm.Instruction {
	n := int32(g.obs.sample)
	if n <= 1 {
		return nil
	}
	if !g.counters {
		return []asm.Instruction{
			asm.FnGetPrandomU32.Call(),
			asm.Mod.Imm(asm.R0, n),
			asm.JNE.Imm(asm.R0, 0, skip),
		}
	}
	kept := g.label("obs_clock")
	return []asm.Instruction{
		asm.LoadMem(asm.R1, regCounters, sampleClock, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.JLT.Imm(asm.R1, n, kept),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(regCounters, sampleClock, asm.R1, asm.DWord).WithSymbol(kept),
		asm.JNE.Imm(asm.R1, 0, skip),
	}
}

// observeBody runs right after slot i's body, its verdict in r0: the
// program's time since the slot's start. In a root of one copy an untimed
// packet pays a load and a comparison; the plain copy of a dual root has
// no timing.
func (g *generation) observeBody(i int) []asm.Instruction {
	s := g.slots[i]
	if !g.obs.timed(s) || g.obs.pass == passPlain {
		return nil
	}
	done := g.label(fmt.Sprintf("obs_body%d", i))
	reload := g.label(fmt.Sprintf("obs_body%d_reload", i))
	timing := append(asm.Instructions{asm.StoreMem(asm.RFP, g.obsVerdict(), asm.R0, asm.DWord)},
		g.emitTiming(int32(s.counter), true, "", reload)...)
	if !g.spreads() {
		out := append(asm.Instructions{
			asm.LoadMem(asm.R1, asm.RFP, g.obsTime(), asm.DWord),
			asm.JEq.Imm(asm.R1, 0, done),
		}, timing...)
		// The landing clobbers r1 only, which the verdict checks do not read.
		return append(out,
			asm.LoadMem(asm.R0, asm.RFP, g.obsVerdict(), asm.DWord).WithSymbol(reload),
			asm.Mov.Reg(asm.R1, regCtx).WithSymbol(done),
		)
	}
	// Spread, out of line: the time, then, unless the turn is k, no
	// later slot is timed.
	timed := g.label(fmt.Sprintf("obs_body%d_timed", i))
	kept := g.label(fmt.Sprintf("obs_body%d_kept", i))
	timing[0] = timing[0].WithSymbol(timed)
	g.obs.cold = append(g.obs.cold, timing...)
	g.obs.cold = append(g.obs.cold,
		asm.LoadMem(asm.R1, asm.RFP, g.obsTurn(), asm.DWord).WithSymbol(reload),
		asm.JEq.Imm(asm.R1, int32(g.timedSlots()), kept),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, g.obsTime(), asm.R1, asm.DWord),
		asm.LoadMem(asm.R0, asm.RFP, g.obsVerdict(), asm.DWord).WithSymbol(kept),
		asm.Ja.Label(done),
	)
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, g.obsTime(), asm.DWord),
		asm.JNE.Imm(asm.R1, 0, timed),
		asm.Mov.Reg(asm.R1, regCtx).WithSymbol(done),
	}
}

// emitDualSample jumps to timed when the packet is one of the profile's
// sample, its cheapest form for the plain copy of a dual root: with
// counters, the per-CPU clock counts down from sample-1 (a load, an add, a
// comparison not taken and a store for an untimed packet, in r2: r1 stays
// the context; the timed copy starts the clock over); a value at or above
// sample, left by an earlier profile, samples at once. Without counters,
// bpf_get_prandom_u32.
func (g *generation) emitDualSample(timed string) []asm.Instruction {
	n := int32(g.obs.sample)
	if !g.counters {
		return []asm.Instruction{
			asm.FnGetPrandomU32.Call(),
			asm.Mod.Imm(asm.R0, n),
			asm.JEq.Imm(asm.R0, 0, timed),
			asm.Mov.Reg(asm.R1, regCtx),
		}
	}
	return []asm.Instruction{
		asm.LoadMem(asm.R2, regCounters, sampleClock, asm.DWord),
		asm.Add.Imm(asm.R2, -1),
		asm.JGE.Imm(asm.R2, n, timed), // unsigned: 0 - 1 too
		asm.StoreMem(regCounters, sampleClock, asm.R2, asm.DWord),
	}
}

// observeDecision runs after slot i's verdict is counted, the verdict the
// chain acts on in r0: captures at the slot's output of the verdicts they
// select, and a trace's decision record.
func (g *generation) observeDecision(i int) []asm.Instruction {
	if !g.observesDecision(i) {
		return nil
	}
	s := g.slots[i]
	out := []asm.Instruction{asm.StoreMem(asm.RFP, g.obsVerdict(), asm.R0, asm.DWord)}
	for j, e := range g.obs.capturesAt(i, s, AtOutput) {
		out = append(out, g.emitEvent(i, e, eventOutput, fmt.Sprintf("out%d_%d", i, j))...)
	}
	for j, e := range g.obs.traces() {
		out = append(out, g.emitEvent(i, e, eventDecision, fmt.Sprintf("dec%d_%d", i, j))...)
	}
	return append(out, asm.LoadMem(asm.R0, asm.RFP, g.obsVerdict(), asm.DWord))
}

// emitTiming adds the time since the area's timestamp to histogram row
// row (and, with packet, one packet) and takes a new timestamp. With skip,
// an untimed packet (timestamp 0) jumps there first; if the histogram's
// lookup fails it jumps to fail. It clobbers r0–r5 and r8.
func (g *generation) emitTiming(row int32, packet bool, skip, fail string) []asm.Instruction {
	t, key := g.obsTime(), g.obsKey()
	lookup := asm.LoadMapPtr(asm.R1, 0)
	_ = lookup.AssociateMap(g.obs.profile) // a map load: cannot fail
	l := func(name string) string { return g.label(fmt.Sprintf("%s_%s", fail, name)) }
	var out []asm.Instruction
	if skip != "" {
		out = append(out,
			asm.LoadMem(asm.R1, asm.RFP, t, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, skip),
		)
	}
	out = append(out,
		asm.FnKtimeGetNs.Call(),
		asm.LoadMem(asm.R1, asm.RFP, t, asm.DWord),
		asm.StoreMem(asm.RFP, t, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.Sub.Reg(asm.R8, asm.R1),
		asm.Mov.Imm(asm.R1, row),
		asm.StoreMem(asm.RFP, key, asm.R1, asm.DWord), // 8 bytes: see emitEvent
		lookup,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, fail),
	)
	if packet {
		out = append(out,
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		)
	}
	out = append(out,
		asm.LoadMem(asm.R1, asm.R0, 8, asm.DWord),
		asm.Add.Reg(asm.R1, asm.R8),
		asm.StoreMem(asm.R0, 8, asm.R1, asm.DWord),
		// The bucket, floor(log2(delta)) with delta capped at 2^32-1: r0
		// moves to it in constant steps (an unprivileged caller's
		// verifier refuses a pointer offset that differs between paths).
		asm.Mov.Reg(asm.R1, asm.R8),
		asm.RSh.Imm(asm.R1, 32),
		asm.JEq.Imm(asm.R1, 0, l("b16")),
		asm.Mov.Imm32(asm.R8, -1),
	)
	for _, sh := range []int32{16, 8, 4, 2, 1} {
		next := l(fmt.Sprintf("b%d", sh/2))
		if sh == 1 {
			next = l("bucket")
		}
		out = append(out,
			asm.JLT.Imm(asm.R8, 1<<sh, next).WithSymbol(l(fmt.Sprintf("b%d", sh))),
			asm.RSh.Imm(asm.R8, sh),
			asm.Add.Imm(asm.R0, 8*sh),
		)
	}
	out = append(out,
		asm.LoadMem(asm.R1, asm.R0, 16, asm.DWord).WithSymbol(l("bucket")),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 16, asm.R1, asm.DWord),
	)
	return out
}

// emitEvent writes one event record of kind for slot i into e's array:
// packet records copy up to the probe's snap length of the packet; an
// output capture copies only the verdicts its probe selects (the verdict
// saved at obsVerdict). It clobbers r0–r5.
func (g *generation) emitEvent(i int, e observedEvents, kind int32, name string) []asm.Instruction {
	s := g.slots[i]
	meta := g.obsMeta()
	skip := g.label("obs_skip_" + name)
	var out []asm.Instruction
	verdict := func() asm.Instruction { return asm.LoadMem(asm.R1, asm.RFP, g.obsVerdict(), asm.DWord) }
	filtered := kind == eventOutput && e.probe.Verdicts != 0 && e.probe.Verdicts != AllVerdicts
	if filtered {
		out = append(out,
			verdict(),
			asm.Mov.Imm32(asm.R2, 1),
			asm.LSh.Reg32(asm.R2, asm.R1),
			asm.And.Imm32(asm.R2, int32(e.probe.Verdicts)),
			asm.JEq.Imm(asm.R2, 0, skip),
		)
	}
	var flags int32
	if s.Shadow {
		flags |= eventFlagShadow
	}
	if i == len(g.slots)-1 {
		flags |= eventFlagLast
	}
	word3 := uint64(flags) | uint64(g.fallthrough_)<<8 | uint64(uint16(s.ProceedOn))<<16
	// The record is written in 8-byte stores only: older kernels refuse
	// an unprivileged caller's partial write to a slot that held a
	// spilled register.
	out = append(out,
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, meta+24, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, int64(uint64(kind)|uint64(uint32(i)|s.counter<<16)<<32), asm.DWord),
		asm.StoreMem(asm.RFP, meta, asm.R1, asm.DWord),
		asm.LoadImm(asm.R2, int64(word3<<32), asm.DWord),
	)
	if kind == eventInput {
		out = append(out, asm.Mov.Imm(asm.R1, 0))
	} else {
		out = append(out, verdict(), asm.Mov.Reg32(asm.R1, asm.R1))
	}
	out = append(out,
		asm.Or.Reg(asm.R1, asm.R2),
		asm.StoreMem(asm.RFP, meta+8, asm.R1, asm.DWord),
	)
	if kind == eventDecision {
		// No packet bytes: flags BPF_F_CURRENT_CPU.
		out = append(out,
			asm.Mov.Imm(asm.R1, 0),
			asm.StoreMem(asm.RFP, meta+16, asm.R1, asm.DWord),
			asm.Mov.Imm32(asm.R3, -1),
		)
	} else {
		capped := g.label("obs_cap_" + name)
		out = append(out,
			asm.Mov.Reg(asm.R1, regCtx),
			asm.FnXdpGetBuffLen.Call(),
			asm.Mov.Reg(asm.R1, asm.R0), // the packet's length
			asm.JLE.Imm(asm.R0, int32(e.probe.Snaplen), capped),
			asm.Mov.Imm(asm.R0, int32(e.probe.Snaplen)),
			// The bytes copied in the upper half of meta+16, the
			// length in the lower.
			asm.Mov.Reg(asm.R3, asm.R0).WithSymbol(capped),
			asm.LSh.Imm(asm.R3, 32),
			asm.Mov.Reg32(asm.R1, asm.R1),
			asm.Or.Reg(asm.R1, asm.R3),
			asm.StoreMem(asm.RFP, meta+16, asm.R1, asm.DWord),
			// flags: the bytes to copy in the upper half,
			// BPF_F_CURRENT_CPU in the lower.
			asm.Mov.Imm32(asm.R1, -1),
			asm.Or.Reg(asm.R3, asm.R1),
		)
	}
	events := asm.LoadMapPtr(asm.R2, 0)
	_ = events.AssociateMap(e.m) // a map load: cannot fail
	out = append(out,
		asm.Mov.Reg(asm.R1, regCtx),
		events,
		asm.Mov.Reg(asm.R4, asm.RFP),
		asm.Add.Imm(asm.R4, int32(meta)),
		asm.Mov.Imm(asm.R5, eventMetaSize),
		asm.FnPerfEventOutput.Call(),
	)
	if filtered {
		// The landing: a no-op that carries the label.
		out = append(out, asm.Mov.Reg(asm.R1, regCtx).WithSymbol(skip))
	}
	return out
}

// observeSize bounds the instructions the hooks add to g's root: with a
// dual root, a second copy of the chain too.
func (g *generation) observeSize() int {
	if g.obs == nil {
		return 0
	}
	n := 8 + g.hooksSize()
	if g.dualWanted() {
		n += chainSize(g)
	}
	return n
}

// hooksSize bounds the instructions the hooks of one copy of the chain
// add: at each slot its captures' and traces' events, and for a timed slot
// the timing at its input and after its body.
func (g *generation) hooksSize() int {
	const timing, event = 52, 40
	n := 0
	for i, s := range g.slots {
		n += 4 + event*(len(g.obs.capturesAt(i, s, AtInput))+len(g.obs.capturesAt(i, s, AtOutput))+len(g.obs.traces()))
		if g.obs.timed(s) {
			n += 2 * timing
		}
	}
	return n
}

// A sampled profile's root holds two copies of the chain (the dual root):
// at slot 0 one per-CPU sample clock decides whether the packet is timed;
// an untimed packet runs the plain copy, the plain generation's code with
// the same captures and traces but no timing at all, and a timed one jumps
// to the timed copy, which times every profiled slot. Both copies count
// and decide exactly as the plain generation does: they are emitted by the
// same emitRoot. The cost is the root's length (the chain's code twice):
// where that would break the verifier's limits the root keeps one copy,
// each timed slot checking whether the packet is sampled, and
// observing.single says why.
type obsPass int

// Passes of the root's emission.
const (
	passAuto  obsPass = iota // a dual root if it fits, else one copy
	passPlain                // the dual root's untimed copy
	passTimed                // the dual root's timed copy
)

// Limits of a dual root: the plain copy's jump to the timed one must fit
// a jump's 16-bit offset, and an unprivileged caller's program has at most
// 4096 instructions (BPF_MAXINSNS).
const maxUnprivilegedInsns = 4096

// chainSize bounds the instructions of one copy of g's chain.
func chainSize(g *generation) int {
	n := 0
	for _, s := range g.slots {
		body := g.body(s)
		n += 64 + len(body)
		for _, ins := range body {
			if ins.OpCode.IsDWordLoad() {
				n++ // two raw instructions
			}
		}
	}
	return n
}

// dualFits reports whether g's root may hold two copies of its chain,
// noting why not in g.obs.single.
func (g *generation) dualFits() bool {
	if g.obs.single != "" {
		return false
	}
	one := 32 + chainSize(g) + g.hooksSize()
	limit := maxJumpSpan
	if g.unprivileged() {
		limit = maxUnprivilegedInsns
	}
	if 2*one >= limit {
		g.obs.single = fmt.Sprintf("the chain twice (about %d instructions) would exceed %d", 2*one, limit)
		return false
	}
	return true
}

// dualWanted reports whether g's observation is a sampled profile of a
// chain whose root may hold it twice.
func (g *generation) dualWanted() bool {
	return g.obs.profile != nil && g.obs.sample > 1 && len(g.slots) > 0 && g.dualFits()
}

// dualRoot reports whether emitRoot writes g as a dual root.
func (g *generation) dualRoot() bool {
	return g.obs != nil && g.obs.pass == passAuto && g.dualWanted()
}

// emitDualRoot writes g's dual root: the plain copy (with the root's
// entry), then the timed copy from where the plain one jumps to it, its
// labels renamed.
func (g *generation) emitDualRoot(entry asm.Instruction) asm.Instructions {
	defer func() { g.obs.pass = passAuto }()
	g.obs.pass = passPlain
	plain := emitRoot(g, entry)
	g.obs.pass = passTimed
	g.obs.cold = nil
	timed := append(emitRoot(g, entry), g.obs.cold...)
	g.obs.cold = nil
	start := g.timedName(g.label("obs_timed"))
	for i := range timed {
		ins := &timed[i]
		if sym := ins.Symbol(); sym != "" {
			*ins = ins.WithSymbol(g.timedName(sym))
		}
		if ref := ins.Reference(); ref != "" && !ins.IsFunctionReference() && g.timedName(ref) != ref {
			*ins = ins.WithReference(g.timedName(ref))
		}
	}
	g.obs.dual = true
	for i, ins := range timed {
		if ins.Symbol() == start {
			return append(plain, timed[i:]...)
		}
	}
	panic("xdpchain: dual root without its timed copy") // emitted above: cannot happen
}

// timedName is the timed copy's name for a label of the root.
func (g *generation) timedName(name string) string {
	prefix := g.label("")
	if rest, ok := strings.CutPrefix(name, prefix); ok {
		return prefix + "t_" + rest
	}
	return name
}

// oneCopy says why a sampled profile's root keeps one copy of the chain
// ("" for a dual root, or no sampled profile).
func (o *observing) oneCopy() string {
	if o == nil || o.profile == nil || o.sample <= 1 {
		return ""
	}
	// An empty chain has nothing to copy (and nothing timed).
	return o.single
}

// refusedDual reports whether err refused a dual root; then the next
// emission keeps one copy, and single says why.
func (o *observing) refusedDual(err error) bool {
	if o == nil || !o.dual {
		return false
	}
	o.dual = false
	o.single = "the verifier refused the chain twice: " + firstLine(err)
	return true
}
