package dispatcher

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// MaxObjectSize bounds a program's ELF object (the largest real XDP
// objects are a few hundred KiB).
const MaxObjectSize = 16 << 20

// elfMagic starts every ELF file.
const elfMagic = "\x7fELF"

// CheckObject is the cheap part of object intake, before parsing: the
// object is not empty, not larger than MaxObjectSize, and an ELF file. It
// returns an ErrLoad that says what is wrong.
func CheckObject(obj []byte) error {
	switch {
	case len(obj) == 0:
		return fmt.Errorf("%w: no object (empty)", ErrLoad)
	case len(obj) > MaxObjectSize:
		return fmt.Errorf("%w: object of %d bytes is larger than the %d allowed", ErrLoad, len(obj), MaxObjectSize)
	case !bytes.HasPrefix(obj, []byte(elfMagic)):
		return fmt.Errorf("%w: not an ELF object (%s)", ErrLoad, describeStart(obj))
	}
	return nil
}

// describeStart says how a non-ELF file begins, for errors.
func describeStart(b []byte) string {
	if len(b) < len(elfMagic) {
		return fmt.Sprintf("%d bytes", len(b))
	}
	n := min(len(b), 8)
	return fmt.Sprintf("it starts with %q", b[:n])
}

// objectSpec parses an ELF object and picks its XDP program: the one named
// progName, or the only one when progName is empty. A program in a section
// that names no type (SEC("x"), SEC("redirect_to_111"), as older samples
// have them; the ELF reader leaves its type unspecified) is taken as XDP, as
// iproute2 and libxdp load it; a program typed as anything else is refused.
func objectSpec(obj []byte, progName string) (cs *ebpf.CollectionSpec, ps *ebpf.ProgramSpec, err error) {
	if err := CheckObject(obj); err != nil {
		return nil, nil, err
	}
	cs, err = loadCollectionSpec(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading ELF object: %w", ErrLoad, err)
	}
	// libxdp's metadata section is BTF only, never a map.
	delete(cs.Maps, runConfigSection)

	var xdp []string
	for name, ps := range cs.Programs {
		if ps.Type == ebpf.XDP || ps.Type == ebpf.UnspecifiedProgram {
			xdp = append(xdp, name)
		}
	}
	sort.Strings(xdp)
	if progName == "" {
		switch len(xdp) {
		case 0:
			return nil, nil, fmt.Errorf("%w: object has no XDP program", ErrLoad)
		case 1:
			progName = xdp[0]
		default:
			return nil, nil, &SeveralProgramsError{Programs: xdp}
		}
	}
	ps, ok := cs.Programs[progName]
	if !ok || ps == nil {
		return nil, nil, fmt.Errorf("%w: object has no program %q (XDP programs: %v)", ErrLoad, progName, xdp)
	}
	switch ps.Type {
	case ebpf.XDP:
	case ebpf.UnspecifiedProgram:
		// Untyped: loaded into an XDP chain, it is XDP.
		ps.Type, ps.AttachType = ebpf.XDP, ebpf.AttachXDP
	default:
		return nil, nil, fmt.Errorf("%w: program %q is %s (section %q), not XDP", ErrLoad, progName, ps.Type, ps.SectionName)
	}
	return cs, ps, nil
}

// NewProgram describes the program progName of an ELF object with the
// defaults the object declares in libxdp's .xdp_run_config metadata
// (priority 50 and proceed-on pass when it declares nothing). The caller
// may override any field before applying it.
func NewProgram(name string, obj []byte, progName string) (Program, error) {
	cs, ps, err := objectSpec(obj, progName)
	if err != nil {
		label := name
		if label == "" {
			label = progName
		}
		if label == "" {
			return Program{}, err
		}
		return Program{}, &ProgramError{Program: label, Err: err}
	}
	p := Program{
		Name:        name,
		Priority:    DefaultPriority,
		ProceedOn:   DefaultProceedOn,
		Object:      obj,
		ProgramName: ps.Name,
		Frags:       ps.Flags&xdpFlagHasFrags != 0,
	}
	if p.Name == "" {
		p.Name = ps.Name
	}
	rc, err := ParseRunConfig(cs.Types, ps.Name)
	if err != nil {
		return Program{}, &ProgramError{Program: p.Name, Err: fmt.Errorf("%w: %w", ErrLoad, err)}
	}
	if rc.Priority != nil {
		p.Priority = *rc.Priority
	}
	if rc.ProceedOn != nil {
		p.ProceedOn = *rc.ProceedOn
	}
	return p, nil
}

// BPF_F_XDP_HAS_FRAGS
const xdpFlagHasFrags = 1 << 5

// loadCollectionSpec parses an ELF object. The ELF reader of the library
// trusts some of what it reads (a malformed object must never take down a
// daemon parsing an object a user sent), so a panic there is an error.
func loadCollectionSpec(obj []byte) (cs *ebpf.CollectionSpec, err error) {
	defer func() {
		if r := recover(); r != nil {
			cs, err = nil, fmt.Errorf("malformed ELF object (%v)", r)
		}
	}()
	return ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
}

// Objects without BTF (clang without -g, as iproute2's examples are built)
// carry no function information. The kernel wants it for every function
// of a program that has any, and the dispatcher has it: a program without
// BTF is given its slot stub's (the same prototype, int f(struct xdp_md
// *)), so its entry function loads inline, linked or as an extension. Its
// other functions would need BTF of their own, so such a program is
// refused at intake.

// hasBTF reports whether the program's functions carry BTF.
func hasBTF(ps *ebpf.ProgramSpec) bool {
	return len(ps.Instructions) > 0 && btf.FuncMetadata(&ps.Instructions[0]) != nil
}

// checkBTF refuses a program without BTF that has subprograms.
func checkBTF(ps *ebpf.ProgramSpec) error {
	if hasBTF(ps) {
		return nil
	}
	if n := len(splitFunctions(ps.Instructions)); n > 1 {
		return fmt.Errorf("%w: the object has no BTF (built without clang -g) and %s has %d subprograms, which need it: rebuild the object with clang -g", ErrLoad, ps.Name, n-1)
	}
	return nil
}

// adoptStubBTF gives insns' entry function, when it has no BTF, the
// function information of the slot stub it stands for (stub, the stub's
// first instruction) under the name name, and with line the stub's line
// (a program that has line information needs it at every function).
func adoptStubBTF(insns asm.Instructions, stub *asm.Instruction, name string, line bool) asm.Instructions {
	if len(insns) == 0 || stub == nil || btf.FuncMetadata(&insns[0]) != nil {
		return insns
	}
	fn := btf.FuncMetadata(stub)
	if fn == nil {
		return insns
	}
	cp := *fn
	cp.Name = name
	out := append(asm.Instructions(nil), insns...)
	out[0] = btf.WithFuncMetadata(out[0], &cp)
	if line && out[0].Source() == nil {
		out[0] = out[0].WithSource(stub.Source())
	}
	return out
}

// stubStart returns the first instruction of the function name in insns,
// or nil.
func stubStart(insns asm.Instructions, name string) *asm.Instruction {
	for i := range insns {
		if insns[i].Symbol() == name {
			return &insns[i]
		}
	}
	return nil
}
