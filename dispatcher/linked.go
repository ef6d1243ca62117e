package dispatcher

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// linkedMechanism splices each program into the dispatcher as a
// BPF-to-BPF subprogram in place of its slot stub: one kernel program per
// generation, no trampolines, works wherever XDP does. It keeps nothing per
// slot: every slot is called.
type linkedMechanism struct{}

func (linkedMechanism) kind() Mechanism   { return Linked }
func (linkedMechanism) needsStacks() bool { return false }
func (linkedMechanism) place(g *generation) error {
	callEvery(g, "")
	return nil
}

func (linkedMechanism) inlined(*slot) (_, _ asm.Instructions) { return nil, nil }

func (linkedMechanism) build(g *generation) (*ebpf.Program, error) {
	prog, err := buildSpliced(g)
	return prog, blameUnprivilegedOn(g, err)
}

// buildSpliced loads g's root as placed, with the called slots' programs
// spliced in place of their stubs: one kernel program (linked and inline).
func buildSpliced(g *generation) (*ebpf.Program, error) {
	if err := checkMapLimit(g); err != nil {
		return nil, err
	}
	prog, err := splice(g)
	if err != nil && g.obs.refusedDual(err) {
		if err := g.prepareRoot(); err != nil {
			return nil, err
		}
		prog, err = splice(g)
	}
	return prog, err
}

// blameUnprivilegedOn returns err, or, when an unprivileged generation
// failed to load, the error naming the program to blame (blameUnprivileged)
// if there is one.
func blameUnprivilegedOn(g *generation, err error) error {
	if err != nil && g.unprivileged() {
		if blame := blameUnprivileged(g, g.verifierLogs); blame != nil {
			return blame
		}
	}
	return err
}

// splice loads g's root with the called slots' stubs replaced by their
// programs.
func splice(g *generation) (*ebpf.Program, error) {
	spec, err := spliceSlots(g, func(s *slot) bool { return !s.inlined() })
	if err != nil {
		return nil, err
	}
	var prog *ebpf.Program
	err = g.dev.load(func() error {
		return loadAs(g.unprivileged(), func() (err error) {
			prog, err = loadProgram(rootProgramName, spec, g.verifierLogs)
			return err
		})
	})
	return prog, err
}

// spliceSlots returns g's root with the stub of every slot pick selects
// replaced by the slot's program: its entry function renamed to the slot's
// symbol, its other functions renamed per slot.
func spliceSlots(g *generation, pick func(*slot) bool) (*ebpf.ProgramSpec, error) {
	spec := g.rootSpec.Copy()
	funcs := splitFunctions(spec.Instructions)
	active := make(map[string]*slot, len(g.slots))
	for i, s := range g.slots {
		active[slotSymbol(i)] = s
	}
	var out asm.Instructions
	for _, f := range funcs {
		s, ok := active[f.name]
		if !ok || !pick(s) {
			out = append(out, f.insns...)
			continue
		}
		n, _ := strconv.Atoi(f.name[len(slotSymbolPrefix):])
		insns, err := renameFunctions(s.insns, f.name, fmt.Sprintf("xdpchain_s%d_", n))
		if err != nil {
			return nil, &ProgramError{Program: s.Name, Err: fmt.Errorf("%w: %w", ErrLoad, err)}
		}
		insns = adoptStubBTF(insns, &f.insns[0], f.name, true)
		out = append(out, insns...)
	}
	spec.Instructions = out
	return spec, nil
}

// firstLine is the first line of err's message.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func (linkedMechanism) commit(*generation) error { return nil }
func (linkedMechanism) abort(*generation)        {}
func (linkedMechanism) cleanup(pinDir, *state)   {}

// renameFunctions renames a program's entry function to entry and its
// other functions to prefix+name, rewriting every call and function
// pointer, so that several programs can live in one instruction stream.
func renameFunctions(insns asm.Instructions, entry, prefix string) (asm.Instructions, error) {
	funcs := splitFunctions(insns)
	if len(funcs) == 0 || funcs[0].name == "" {
		return nil, fmt.Errorf("program has no entry symbol")
	}
	rename := make(map[string]string, len(funcs))
	for i, f := range funcs {
		if i == 0 {
			rename[f.name] = entry
		} else {
			rename[f.name] = prefix + f.name
		}
	}
	out := make(asm.Instructions, 0, len(insns))
	for _, f := range funcs {
		for _, ins := range f.insns {
			if sym := ins.Symbol(); sym != "" {
				ins = ins.WithSymbol(rename[sym])
				if fn := btf.FuncMetadata(&ins); fn != nil {
					cp := *fn
					cp.Name = rename[sym]
					ins = btf.WithFuncMetadata(ins, &cp)
				}
			}
			if ref := ins.Reference(); ref != "" && ins.IsFunctionReference() {
				to, ok := rename[ref]
				if !ok {
					return nil, fmt.Errorf("call to unknown function %q", ref)
				}
				ins = ins.WithReference(to)
			}
			out = append(out, ins)
		}
	}
	return out, nil
}

// maxMapsPerProgram is the kernel's limit on the maps one program uses
// (MAX_USED_MAPS).
const maxMapsPerProgram = 64

// checkMapLimit refuses a linked generation whose programs together use
// more maps than one kernel program may, naming the first program that
// does not fit.
func checkMapLimit(g *generation) error {
	seen := map[ebpf.MapID]bool{}
	count := func(m *ebpf.Map) {
		if info, err := m.Info(); err == nil {
			if id, ok := info.ID(); ok {
				seen[id] = true
				return
			}
		}
		seen[ebpf.MapID(0xffffffff-len(seen))] = true
	}
	if g.rodata != nil {
		count(g.rodata)
	}
	count(g.stats)
	for _, s := range g.slots {
		for _, m := range s.maps {
			count(m)
		}
		if len(seen) > maxMapsPerProgram {
			return &ProgramError{Program: s.Name, Err: fmt.Errorf("%w: a linked dispatcher is one kernel program, and its programs together would use %d maps, more than the kernel's limit of %d per program; use the freplace mechanism or fewer programs with maps", ErrInvalid, len(seen), maxMapsPerProgram)}
		}
	}
	return nil
}
