package dispatcher

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
)

// objectSpec parses an ELF object and picks its XDP program: the one named
// progName, or the only XDP program when progName is empty.
func objectSpec(obj []byte, progName string) (*ebpf.CollectionSpec, *ebpf.ProgramSpec, error) {
	if len(obj) == 0 {
		return nil, nil, fmt.Errorf("%w: no object", ErrLoad)
	}
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading ELF object: %v", ErrLoad, err)
	}
	// libxdp's metadata section is BTF only, never a map.
	delete(cs.Maps, runConfigSection)

	var xdp []string
	for name, ps := range cs.Programs {
		if ps.Type == ebpf.XDP {
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
			return nil, nil, fmt.Errorf("%w: object has several XDP programs %v: choose one", ErrInvalid, xdp)
		}
	}
	ps, ok := cs.Programs[progName]
	if !ok {
		return nil, nil, fmt.Errorf("%w: object has no program %q (XDP programs: %v)", ErrLoad, progName, xdp)
	}
	if ps.Type != ebpf.XDP {
		return nil, nil, fmt.Errorf("%w: program %q is %s, not XDP", ErrLoad, progName, ps.Type)
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
		return Program{}, &ProgramError{Program: p.Name, Err: fmt.Errorf("%w: %v", ErrLoad, err)}
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
