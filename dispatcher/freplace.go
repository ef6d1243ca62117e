package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// freplaceMechanism loads each program once as a BPF_PROG_TYPE_EXT program
// and attaches it to its slot in every new generation (multi-attach, 5.10).
// Each program is a kernel object of its own (visible in bpftool, with an
// ID), pinned with its link under the interface's pin directory. A program
// that uses a PROG_ARRAY is spliced into the root instead (place).
type freplaceMechanism struct {
	// ext holds each extended slot's program and link, from build until
	// commit or abort.
	ext map[*slot]*freplaceSlot
}

type freplaceSlot struct {
	prog    *ebpf.Program
	link    link.Link
	created bool // prog was loaded for this generation
}

func newFreplaceMechanism() *freplaceMechanism {
	return &freplaceMechanism{ext: map[*slot]*freplaceSlot{}}
}

func (*freplaceMechanism) kind() Mechanism   { return Freplace }
func (*freplaceMechanism) needsStacks() bool { return false }

// place extends every slot, except that a program that uses a PROG_ARRAY
// is spliced into the root (reasonExtensionTailCall).
func (*freplaceMechanism) place(g *generation) error {
	for _, s := range g.slots {
		s.placed, s.callReason = PlacementFreplace, ""
		if s.ext != nil {
			continue // the adopted extension, not the call object, runs
		}
		if name := progArrayOf(s); name != "" {
			s.placed, s.callReason = PlacementCall, fmt.Sprintf(reasonExtensionTailCall, name)
		}
	}
	return nil
}

func (*freplaceMechanism) inlined(*slot) (_, _ asm.Instructions) { return nil, nil }

func (m *freplaceMechanism) build(g *generation) (_ *ebpf.Program, err error) {
	spec, err := spliceCalled(g)
	if err != nil {
		return nil, err
	}
	var root *ebpf.Program
	err = g.dev.load(func() (err error) {
		root, err = loadProgram(rootProgramName, spec, g.verifierLogs)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.abort(g)
			root.Close()
		}
	}()
	for i, s := range g.slots {
		if s.placed != PlacementFreplace {
			continue
		}
		fs, err := m.extend(g, root, i, s)
		if err != nil {
			return nil, err
		}
		if info, err := fs.prog.Info(); err == nil {
			if id, ok := info.ID(); ok {
				s.programID = uint32(id)
			}
		}
	}
	return root, nil
}

// extend attaches slot i's program to root: the program pinned by an
// earlier generation, or, when there is none or it cannot attach here,
// loaded anew.
func (m *freplaceMechanism) extend(g *generation, root *ebpf.Program, i int, s *slot) (_ *freplaceSlot, err error) {
	fs := &freplaceSlot{}
	m.ext[s] = fs
	if s.ext != nil {
		// An adopted extension: the kernel program itself, given a new
		// target; there is no object to load it from anew.
		if fs.prog, err = s.ext.Clone(); err != nil {
			return nil, &ProgramError{Program: s.Name, Err: err}
		}
		fs.link, err = link.AttachFreplace(root, slotSymbol(i), fs.prog)
		if err != nil {
			return nil, &ProgramError{Program: s.Name, Err: fmt.Errorf("attaching its adopted extension program %s to slot %d: %w", fs.prog, i, trampolineError(err))}
		}
		return fs, nil
	}
	if !s.fresh {
		if p, err := ebpf.LoadPinnedProgram(filepath.Join(g.pins.progsDir(), s.Name), nil); err == nil {
			fs.prog = p
		}
	}
	if fs.prog != nil {
		// The pinned program was loaded against an earlier generation;
		// if it cannot attach here (e.g. a different frags flag), load
		// it anew below.
		fs.link, err = link.AttachFreplace(root, slotSymbol(i), fs.prog)
		if err == nil {
			return fs, nil
		}
		fs.prog.Close()
		fs.prog, fs.link = nil, nil
	}
	var flags uint32
	if g.frags {
		flags = xdpFlagHasFrags
	}
	fs.prog, err = loadProgram(s.Name, &ebpf.ProgramSpec{
		Name:         s.ProgramName,
		Type:         ebpf.Extension,
		License:      s.license,
		Flags:        flags,
		AttachTarget: root,
		AttachTo:     slotSymbol(i),
		Instructions: adoptStubBTF(s.insns, stubStart(g.rootSpec.Instructions, slotSymbol(i)), s.ProgramName, false),
	}, g.verifierLogs)
	if err != nil {
		var pe *ProgramError
		if errors.As(err, &pe) {
			pe.Err = trampolineError(pe.Err)
		}
		return nil, err
	}
	fs.created = true
	fs.link, err = link.AttachFreplace(root, slotSymbol(i), fs.prog)
	if err != nil {
		return nil, &ProgramError{Program: s.Name, Err: fmt.Errorf("attaching to slot %d: %w", i, trampolineError(err))}
	}
	return fs, nil
}

func replacePin(path string, pin func(string) error) error {
	tmp := path + "_new"
	os.Remove(tmp)
	if err := pin(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (m *freplaceMechanism) commit(g *generation) error {
	var errs []error
	for _, s := range g.slots {
		fs, ok := m.ext[s]
		if !ok {
			if s.placed == PlacementCall {
				// An extension it was before is no longer wanted.
				os.Remove(filepath.Join(g.pins.linksDir(), s.Name))
				os.Remove(filepath.Join(g.pins.progsDir(), s.Name))
			}
			continue
		}
		if err := os.MkdirAll(g.pins.progsDir(), 0o700); err != nil {
			errs = append(errs, err)
		}
		if err := os.MkdirAll(g.pins.linksDir(), 0o700); err != nil {
			errs = append(errs, err)
		}
		if fs.created {
			errs = append(errs, replacePin(filepath.Join(g.pins.progsDir(), s.Name), fs.prog.Pin))
		}
		errs = append(errs, replacePin(filepath.Join(g.pins.linksDir(), s.Name), fs.link.Pin))
		fs.link.Close()
		fs.prog.Close()
		delete(m.ext, s)
	}
	// The pins of programs that left the chain go in cleanup, which the
	// apply runs next with the committed state.
	return errors.Join(errs...)
}

func (m *freplaceMechanism) abort(*generation) {
	for s, fs := range m.ext {
		if fs.link != nil {
			fs.link.Close()
		}
		if fs.prog != nil {
			fs.prog.Close()
		}
		delete(m.ext, s)
	}
}

func (*freplaceMechanism) cleanup(pd pinDir, st *state) {
	keep := map[string]bool{}
	for _, p := range st.Programs {
		keep[p.Name] = p.Placement != PlacementCall // a spliced program has no extension
	}
	removeUnlisted(pd.progsDir(), keep)
	removeUnlisted(pd.linksDir(), keep)
}

// extensionsIntact reports whether every extension of st's chain (freplace)
// has its link pinned. The links are pinned when a generation commits,
// after its swap: a process killed in between leaves the new root running
// with the slots its extensions filled empty (their links went with the
// process) and a state that names them. Such a chain is not unchanged: the
// next change builds it again.
func (pd pinDir) extensionsIntact(st *state) bool {
	if st.Mechanism != Freplace {
		return true
	}
	for _, p := range st.Programs {
		if p.Placement != PlacementFreplace {
			continue
		}
		if _, err := os.Lstat(filepath.Join(pd.linksDir(), p.Name)); err != nil {
			return false
		}
	}
	return true
}

// removeUnlisted removes the entries of dir whose names are not in keep.
func removeUnlisted(dir string, keep map[string]bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !keep[e.Name()] {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// reasonExtensionTailCall is why, under freplace, a program that uses a
// PROG_ARRAY is spliced into the root instead of extending it. The kernel
// lets one PROG_ARRAY serve programs of one expected attach type only,
// fixed by its first user (6.1 and 6.12 alike, TestTailCallReturnsToChain):
// the program verified alone and the SEC("xdp") programs its loader puts
// into the array have BPF_XDP, an extension has none, so the extension
// would be refused the array (EINVAL), and owning it would refuse them.
// Spliced, the program is part of the root, which is XDP with BPF_XDP.
const reasonExtensionTailCall = "called: spliced into the root, because the kernel refuses an extension (freplace) the PROG_ARRAY %q it uses: one PROG_ARRAY serves programs of one expected attach type, and an extension has none while the array's XDP programs have BPF_XDP"

// spliceCalled returns g's root with the slots place spliced into it
// (those whose programs use a PROG_ARRAY).
func spliceCalled(g *generation) (*ebpf.ProgramSpec, error) {
	called := func(s *slot) bool { return s.placed == PlacementCall }
	if !slices.ContainsFunc(g.slots, called) {
		return g.rootSpec, nil
	}
	return spliceSlots(g, called)
}

// progArrayOf names a PROG_ARRAY that s's instructions use, or "".
func progArrayOf(s *slot) string {
	for name, m := range s.maps {
		if m.Type() != ebpf.ProgramArray {
			continue
		}
		for _, ins := range s.insns {
			if ins.IsLoadFromMap() && ins.Map() == m {
				return name
			}
		}
	}
	return ""
}
