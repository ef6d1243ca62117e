package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// Adopting libxdp's multi-program dispatcher (xdp-loader with several
// programs). libxdp's dispatcher is an XDP program calling the global
// functions prog0..prog9 in turn; each component is an extension
// (BPF_PROG_TYPE_EXT) attached to one of them by a freplace link, and the
// dispatcher's frozen .rodata (struct xdp_dispatcher_config) holds, per
// function, the component's priority (run_prios) and the actions on which
// the chain goes on (chain_call_actions, one bit per XDP action, as
// ProceedOn).
//
// A component has no ELF object xdpchain could load: it enters the chain
// as the kernel program it is, attached anew (BPF_LINK_CREATE with the new
// root as target) to its slot function, which has the same signature as
// libxdp's (int f(struct xdp_md *)). Such a chain runs only under the
// freplace mechanism. Its record is a call slot (the built-in call object
// stands for it in the plan) with the extension pinned beside the slot's
// maps (extensionPin).

const (
	libxdpDispatcherName = "xdp_dispatcher"
	libxdpSlotPrefix     = "prog"
	// extensionPinName is the pin, in a program's map directory, of an
	// adopted extension program (a libxdp component).
	extensionPinName = "xdpchain_extension"
)

// reasonAdoptedExtension is why a chain of adopted libxdp components runs
// under freplace.
const reasonAdoptedExtension = "adopted libxdp components are extension (freplace) programs, which run only as extensions"

// libxdpComponent is one program of a libxdp dispatcher.
type libxdpComponent struct {
	slot       int // prog<slot>
	kernelName string
	priority   int
	proceedOn  VerdictSet
	prog       *ebpf.Program
}

// dispatcherConfig is libxdp's struct xdp_dispatcher_config, read by the
// names of its members in the dispatcher's BTF (their layout differs
// between dispatcher versions).
type dispatcherConfig struct {
	numProgs  int
	actions   []uint32
	prios     []uint32
	frags     bool
	hasFrags  bool
	rawLength int
}

// libxdpComponents returns the components of the libxdp dispatcher disp,
// in the order it runs them, with their priorities and chain-call actions.
// The caller closes their programs.
func libxdpComponents(disp *ebpf.Program) (_ []libxdpComponent, _ *dispatcherConfig, err error) {
	info, err := disp.Info()
	if err != nil {
		return nil, nil, err
	}
	dispID, ok := info.ID()
	if !ok {
		return nil, nil, fmt.Errorf("libxdp dispatcher %s: the kernel gives no program ID", disp)
	}
	h, err := disp.Handle()
	if err != nil {
		return nil, nil, fmt.Errorf("BTF of libxdp dispatcher %d: %w", dispID, err)
	}
	defer h.Close()
	spec, err := h.Spec(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("BTF of libxdp dispatcher %d: %w", dispID, err)
	}
	cfg, err := readDispatcherConfig(info, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("libxdp dispatcher %d: %w", dispID, err)
	}
	var comps []libxdpComponent
	defer func() {
		if err != nil {
			for _, c := range comps {
				c.prog.Close()
			}
		}
	}()
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		li, err := it.Link.Info()
		if err != nil || li.Type != link.TracingType {
			continue
		}
		tr := li.Tracing()
		if tr == nil || tr.TargetObjectId != uint32(dispID) {
			continue
		}
		typ, err := spec.TypeByID(btf.TypeID(tr.TargetBtfId))
		if err != nil {
			return nil, nil, fmt.Errorf("link %d of libxdp dispatcher %d: target %d: %w", li.ID, dispID, tr.TargetBtfId, err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(typ.TypeName(), libxdpSlotPrefix))
		if !strings.HasPrefix(typ.TypeName(), libxdpSlotPrefix) || err != nil || n < 0 || n >= len(cfg.actions) {
			return nil, nil, fmt.Errorf("link %d extends %q of libxdp dispatcher %d, not one of its program slots", li.ID, typ.TypeName(), dispID)
		}
		if n >= cfg.numProgs {
			continue // a slot the dispatcher does not run
		}
		prog, err := ebpf.NewProgramFromID(li.Program)
		if err != nil {
			return nil, nil, fmt.Errorf("component %d of libxdp dispatcher %d: %w", li.Program, dispID, err)
		}
		c := cfg.component(n)
		c.prog = prog
		comps = append(comps, c)
		if pi, err := prog.Info(); err == nil {
			comps[len(comps)-1].kernelName = pi.Name
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("listing the kernel's BPF links: %w", err)
	}
	slices.SortFunc(comps, func(a, b libxdpComponent) int { return a.slot - b.slot })
	for i, c := range comps {
		if c.slot != i || (i > 0 && comps[i-1].slot == c.slot) {
			return nil, nil, fmt.Errorf("libxdp dispatcher %d runs %d programs, but its slot %d has no component (or two)", dispID, cfg.numProgs, i)
		}
	}
	if len(comps) != cfg.numProgs {
		return nil, nil, fmt.Errorf("libxdp dispatcher %d runs %d programs, %d are attached to it", dispID, cfg.numProgs, len(comps))
	}
	return comps, cfg, nil
}

// component is the program in slot n as the configuration runs it: its
// priority, and its chain-call actions as ProceedOn (libxdp's bit 31,
// XDP_DISPATCHER_RETVAL, is what a slot without a program returns, no
// verdict).
func (cfg *dispatcherConfig) component(n int) libxdpComponent {
	return libxdpComponent{slot: n, priority: int(cfg.prios[n]), proceedOn: VerdictSet(cfg.actions[n]) & AllVerdicts}
}

// readDispatcherConfig reads the dispatcher's frozen configuration
// (variable conf in its .rodata) by the BTF of its members.
func readDispatcherConfig(info *ebpf.ProgramInfo, spec *btf.Spec) (*dispatcherConfig, error) {
	value, mapSpec, err := rodataValue(info)
	if err != nil {
		return nil, err
	}
	// The map's BTF has the section (a loader may give the program only
	// the types its functions use); else the program's (libbpf's has all).
	var sec *btf.Datasec
	if mapSpec == nil || mapSpec.TypeByName(".rodata", &sec) != nil {
		if err := spec.TypeByName(".rodata", &sec); err != nil {
			return nil, fmt.Errorf("no .rodata in its BTF or its map's: %w", err)
		}
	}
	var conf *btf.VarSecinfo
	for i, v := range sec.Vars {
		if v.Type.TypeName() == "conf" {
			conf = &sec.Vars[i]
		}
	}
	if conf == nil {
		return nil, errors.New("no variable conf in its .rodata (not a libxdp dispatcher)")
	}
	st, ok := btf.UnderlyingType(conf.Type.(*btf.Var).Type).(*btf.Struct)
	if !ok {
		// Qualifiers (const volatile) are skipped by UnderlyingType.
		return nil, fmt.Errorf("conf is %s, not struct xdp_dispatcher_config", conf.Type.(*btf.Var).Type)
	}
	cfg := &dispatcherConfig{rawLength: len(value)}
	field := func(name string) (off int, size int, count int, ok bool) {
		for _, m := range st.Members {
			if m.Name != name {
				continue
			}
			t := btf.UnderlyingType(m.Type)
			count = 1
			if a, isArray := t.(*btf.Array); isArray {
				count = int(a.Nelems)
				t = btf.UnderlyingType(a.Type)
			}
			sz, err := btf.Sizeof(t)
			if err != nil {
				return 0, 0, 0, false
			}
			return int(conf.Offset) + int(m.Offset.Bytes()), sz, count, true
		}
		return 0, 0, 0, false
	}
	read := func(off, size int) (uint32, error) {
		if off < 0 || off+size > len(value) {
			return 0, fmt.Errorf("its .rodata (%d bytes) is shorter than its BTF says", len(value))
		}
		var v uint32
		for i := size - 1; i >= 0; i-- { // little endian
			v = v<<8 | uint32(value[off+i])
		}
		return v, nil
	}
	off, size, _, ok := field("num_progs_enabled")
	if !ok {
		return nil, errors.New("its configuration has no num_progs_enabled")
	}
	n, err := read(off, size)
	if err != nil {
		return nil, err
	}
	cfg.numProgs = int(n)
	for _, arr := range []struct {
		name string
		into *[]uint32
	}{{"chain_call_actions", &cfg.actions}, {"run_prios", &cfg.prios}} {
		off, size, count, ok := field(arr.name)
		if !ok || count < cfg.numProgs {
			return nil, fmt.Errorf("its configuration has no %s for %d programs", arr.name, cfg.numProgs)
		}
		for i := range count {
			v, err := read(off+i*size, size)
			if err != nil {
				return nil, err
			}
			*arr.into = append(*arr.into, v)
		}
	}
	if off, size, _, ok := field("is_xdp_frags"); ok {
		v, err := read(off, size)
		if err != nil {
			return nil, err
		}
		cfg.frags, cfg.hasFrags = v != 0, true
	}
	return cfg, nil
}

// rodataValue is the content of the dispatcher's .rodata map, and the
// map's BTF (nil if it has none).
func rodataValue(info *ebpf.ProgramInfo) ([]byte, *btf.Spec, error) {
	ids, _ := info.MapIDs()
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		mi, err := m.Info()
		if err != nil || !strings.HasSuffix(mi.Name, ".rodata") || mi.Type != ebpf.Array {
			m.Close()
			continue
		}
		value := make([]byte, m.ValueSize())
		err = m.Lookup(uint32(0), &value)
		m.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading its .rodata (map %d): %w", id, err)
		}
		var spec *btf.Spec
		if bid, ok := mi.BTFID(); ok && bid != 0 {
			if h, err := btf.NewHandleFromID(bid); err == nil {
				spec, _ = h.Spec(nil)
				h.Close()
			}
		}
		return value, spec, nil
	}
	return nil, nil, errors.New("no .rodata map among its maps")
}

// componentPrograms turns components into chain programs (the built-in
// call object standing for each), named after their kernel names (dots as
// '_', made unique), in libxdp's order: priority as libxdp's, raised where
// needed so that xdpchain's order (priority, then name) is libxdp's.
func componentPrograms(comps []libxdpComponent, owner string, frags bool) ([]Program, error) {
	var out []Program
	used := map[string]bool{}
	for i, c := range comps {
		name := strings.ReplaceAll(c.kernelName, ".", "_")
		if name == "" || !ValidName(name) {
			name = fmt.Sprintf("libxdp_prog%d", c.slot)
		}
		for base, k := name, 2; used[name]; k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		used[name] = true
		p, err := NewProgram(name, callObject(), callProgramName)
		if err != nil {
			return nil, err
		}
		p.Owner, p.Priority, p.ProceedOn, p.Frags = owner, c.priority, c.proceedOn, frags
		if i > 0 {
			prev := out[i-1]
			if p.Priority < prev.Priority || (p.Priority == prev.Priority && p.Name < prev.Name) {
				p.Priority = prev.Priority + 1
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// extensionPin is where the adopted extension of program name is pinned.
func (p pinDir) extensionPin(name string) string {
	return filepath.Join(p.progMaps(name), extensionPinName)
}

// adoptedExtension opens the adopted extension (libxdp component) of
// program name, if it is one: nil without error when it is not.
func adoptedExtension(pd pinDir, name string) (*ebpf.Program, error) {
	prog, err := ebpf.LoadPinnedProgram(pd.extensionPin(name), nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &ProgramError{Program: name, Err: fmt.Errorf("opening its adopted extension program: %w", err)}
	}
	return prog, nil
}

// errExtensionMechanism is the refusal of a mechanism other than freplace
// for a chain holding adopted extensions.
func errExtensionMechanism(name string, mech Mechanism) error {
	return &ProgramError{Program: name, Err: fmt.Errorf("%w: it is an adopted libxdp component, an extension (freplace) program without an object, which cannot run under the %s mechanism; only freplace runs it (to run it otherwise, load it from its object instead)", ErrInvalid, mech)}
}
