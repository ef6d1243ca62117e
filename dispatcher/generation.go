package dispatcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

const (
	slotSymbolPrefix = "xdpchain_slot"
	rootProgramName  = "xdpchain_root"
	configVariable   = "xdpchain_cfg"
	statsMapName     = "xdpchain_stats"
	configMagic      = 0x43504458
	configVersion    = 2
	slotEmpty        = 31
	flagCounters     = 1 << 0
	slotFlagShadow   = 1 << 0
	slotFlagDerived  = 1 << 1
	maxCounters      = 2 * MaxPrograms
)

func slotSymbol(n int) string { return slotSymbolPrefix + strconv.Itoa(n) }

var dispatcherSpec = sync.OnceValues(loadDispatcher)

// slot is one program of a generation, ready to be placed.
type slot struct {
	Program
	hash    string
	license string
	counter uint32
	// fresh: new or changed in this apply; verified on its own first.
	fresh bool
	cs    *ebpf.CollectionSpec
	// insns are the program's instructions (entry function first) with
	// every map reference associated with maps; alone is the program on
	// its own, as it is verified first.
	insns asm.Instructions
	alone *ebpf.ProgramSpec
	maps  map[string]*ebpf.Map
	// frames are the stack depths of the program's functions (entry first)
	// as the verifier reported them for the program alone; nil if unknown.
	frames []int
	graph  *callGraph
	// stackUnknown says why frames is nil, when it is.
	stackUnknown string
	// dev is the device the program is bound to (devbound.go), when it
	// calls XDP metadata kfuncs; nil otherwise.
	dev *device
	// placed is how the slot runs (PlacementInline, PlacementCall or
	// PlacementFreplace) and callReason why it is called, when a
	// mechanism that could do otherwise calls it; the generation's
	// mechanism decides both (mechanism.place).
	placed     string
	callReason string
	// programID is the program's own kernel ID, when it is a kernel
	// program of its own (freplace).
	programID uint32
	// kept is the program verified alone, as kept (alone.go).
	kept keptProgram
	// ext is the slot's adopted extension (a libxdp component, libxdp.go):
	// the kernel program that runs in the slot, under freplace only.
	ext *ebpf.Program
}

// inlined reports whether s's entry function is written into the root.
func (s *slot) inlined() bool { return s.placed == PlacementInline }

func (s *slot) close() {
	if s.ext != nil {
		s.ext.Close()
	}
	for _, m := range s.maps {
		m.Close()
	}
}

// generation is one build of an interface's dispatcher.
type generation struct {
	number       uint64
	pins         pinDir
	slots        []*slot
	fallthrough_ Verdict
	counters     bool
	// ftColumn is row 0's column counting fall-through (stats.go).
	ftColumn     uint32
	frags        bool
	verifierLogs bool
	// mech fills the slots (mechanism.go); nil: every slot is called.
	mech mechanism
	// referenceRoot: the C root with its configuration in .rodata
	// instead of the emitted one (Options.ReferenceRoot).
	referenceRoot bool
	stats         *ebpf.Map
	// countersPin names the pin of stats (state.Counters); ownStats: stats
	// is a new, larger map this generation made (growCounters), closed
	// unless the generation is committed.
	countersPin string
	ownStats    bool
	// dev is the device the generation is bound to, when a program of it
	// is (devbound.go).
	dev *device
	// obs is what the generation observes (observe.go); nil: plain.
	obs *observing

	rootSpec *ebpf.ProgramSpec // root program, configuration set, maps associated
	rodata   *ebpf.Map
	prog     *ebpf.Program // the loaded dispatcher
	// newPins are pins created for this generation, removed if it fails.
	newPins []string
	// replacePins are pins to (re)place once the generation is committed.
	replacePins map[string]*ebpf.Map
	// readOnly are the read-only data maps of this generation's objects,
	// by object hash and map name, shared by programs of one object.
	readOnly map[string]*ebpf.Map
}

func (g *generation) close() {
	g.obs.close()
	if g.ownStats {
		g.stats.Close()
	}
	if g.rodata != nil {
		g.rodata.Close()
	}
	if g.prog != nil {
		g.prog.Close()
	}
	for _, s := range g.slots {
		s.close()
	}
}

// discard undoes a generation that was not swapped in.
func (g *generation) discard() {
	for _, p := range g.newPins {
		os.Remove(p)
		os.Remove(filepath.Dir(p)) // only succeeds when empty
	}
	g.close()
}

// config is the .rodata configuration of g's root program.
func (g *generation) config() dispatcherXdpchainConfig {
	var c dispatcherXdpchainConfig
	c.Magic = configMagic
	c.Version = configVersion
	c.NumSlots = uint32(len(g.slots))
	c.Fallthrough = uint32(g.fallthrough_)
	c.FallthroughColumn = g.ftColumn
	if g.counters {
		c.Flags |= flagCounters
	}
	for i, s := range g.slots {
		c.ProceedOn[i] = uint32(s.ProceedOn)
		c.Allowed[i] = uint32(AllVerdicts)
		if s.Allowed != 0 {
			c.Allowed[i] = uint32(s.Allowed)
		}
		c.Counter[i] = s.counter
		if s.Shadow {
			c.SlotFlags[i] |= slotFlagShadow
		}
		if derived(s.Program) {
			c.SlotFlags[i] |= slotFlagDerived
		}
	}
	return c
}

// prepareRoot places g's slots (g.mech.place) and makes g.rootSpec: the
// dispatcher's root program, emitted with the configuration folded in
// (root.go), followed by the slot stubs of the C object. With
// g.referenceRoot, the C root with its configuration in a new frozen
// .rodata.
func (g *generation) prepareRoot() error {
	base, err := dispatcherSpec()
	if err != nil {
		return fmt.Errorf("parsing embedded dispatcher: %w", err)
	}
	cs := base.Copy()
	ps := cs.Programs[rootProgramName]
	if g.frags {
		ps.Flags |= xdpFlagHasFrags
	}
	g.dev.bind(ps)
	if g.mech != nil {
		for _, s := range g.slots {
			if s.ext != nil && g.mech.kind() != Freplace {
				return errExtensionMechanism(s.Name, g.mech.kind())
			}
		}
		if err := g.mech.place(g); err != nil {
			return err
		}
	} else {
		callEvery(g, "")
	}
	if !g.referenceRoot {
		return g.prepareEmitted(ps)
	}
	rodata, err := withConfig(cs, g.config())
	if err != nil {
		return fmt.Errorf("setting dispatcher configuration: %w", err)
	}
	g.rodata, err = ebpf.NewMap(rodata)
	if err != nil {
		return fmt.Errorf("creating dispatcher configuration map: %w", err)
	}
	for i := range ps.Instructions {
		ins := &ps.Instructions[i]
		switch ins.Reference() {
		case ".rodata":
			err = ins.AssociateMap(g.rodata)
		case statsMapName:
			err = ins.AssociateMap(g.stats)
		}
		if err != nil {
			return fmt.Errorf("dispatcher: %w", err)
		}
	}
	g.rootSpec = ps
	return nil
}

// prepareEmitted makes g.rootSpec from the C object's root ps: the
// emitted root function (root.go), followed by the stubs of the called
// slots and the other functions of the inlined ones.
func (g *generation) prepareEmitted(ps *ebpf.ProgramSpec) error {
	entry, stubs := rootFunctions(ps)
	insns := emitRoot(g, entry.insns[0])
	// Only called functions are subprograms to the kernel, and func_info
	// must describe exactly those: keep the stubs of the called slots, and
	// the functions of the inlined ones.
	byName := make(map[string]function, len(stubs))
	for _, f := range stubs {
		byName[f.name] = f
	}
	for i, s := range g.slots {
		if s.inlined() {
			continue
		}
		f, ok := byName[slotSymbol(i)]
		if !ok {
			return fmt.Errorf("embedded dispatcher has no %s", slotSymbol(i))
		}
		insns = append(insns, f.insns...)
	}
	for _, s := range g.slots {
		if g.mech != nil {
			_, rest := g.mech.inlined(s)
			insns = append(insns, rest...)
		}
	}
	ps.Instructions = insns
	g.rootSpec = ps
	return nil
}

// label names a jump target of g's emitted root.
func (g *generation) label(name string) string {
	return fmt.Sprintf("xdpchain_g%d_%s", g.number, name)
}

// loadProgram loads spec, keeping the verifier log in a ProgramError.
func loadProgram(name string, spec *ebpf.ProgramSpec, logs bool) (*ebpf.Program, error) {
	opts := ebpf.ProgramOptions{}
	if logs {
		opts.LogLevel = ebpf.LogLevelBranch
	}
	p, err := ebpf.NewProgramWithOptions(spec, opts)
	if err == nil {
		return p, nil
	}
	pe := &ProgramError{Program: name, Err: fmt.Errorf("%w: %w", ErrLoad, err)}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		pe.VerifierLog = fmt.Sprintf("%+v", ve)
	}
	withVerifierReason(pe, spec, err, logs)
	return nil, pe
}

// function is a BPF function within an instruction stream.
type function struct {
	name  string
	insns asm.Instructions
}

// splitFunctions cuts an instruction stream at its function symbols.
func splitFunctions(insns asm.Instructions) []function {
	var out []function
	for _, ins := range insns {
		if sym := ins.Symbol(); sym != "" || len(out) == 0 {
			out = append(out, function{name: sym})
		}
		f := &out[len(out)-1]
		f.insns = append(f.insns, ins)
	}
	return out
}

// withConfig returns the dispatcher's .rodata with cfg written in place of
// the compiled-in defaults.
func withConfig(cs *ebpf.CollectionSpec, cfg dispatcherXdpchainConfig) (*ebpf.MapSpec, error) {
	v, ok := cs.Variables[configVariable]
	if !ok {
		return nil, fmt.Errorf("dispatcher has no %s", configVariable)
	}
	ms := cs.Maps[v.SectionName].Copy()
	if len(ms.Contents) != 1 {
		return nil, fmt.Errorf("%s: unexpected layout", v.SectionName)
	}
	data, ok := ms.Contents[0].Value.([]byte)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected contents %T", v.SectionName, ms.Contents[0].Value)
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, cfg); err != nil {
		return nil, err
	}
	if buf.Len() != int(v.Size()) || int(v.Offset)+buf.Len() > len(data) {
		return nil, fmt.Errorf("configuration is %d bytes, dispatcher expects %d", buf.Len(), v.Size())
	}
	data = slices.Clone(data)
	copy(data[v.Offset:], buf.Bytes())
	ms.Contents = []ebpf.MapKV{{Key: ms.Contents[0].Key, Value: data}}
	return ms, nil
}
