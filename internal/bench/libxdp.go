package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// libxdpConfig mirrors struct xdp_dispatcher_config of libxdp 1.3 (format
// version 2), the .rodata variable "conf" of xdp-dispatcher.o. Its size is
// checked against the object's BTF when it is set.
type libxdpConfig struct {
	Magic            uint8
	Version          uint8
	NumProgsEnabled  uint8
	IsXDPFrags       uint8
	ChainCallActions [LibXDPMaxPrograms]uint32
	RunPrios         [LibXDPMaxPrograms]uint32
	ProgramFlags     [LibXDPMaxPrograms]uint32
}

const (
	libxdpMagic   = 236 // 'X' + 'D' + 'P'
	libxdpVersion = 2
	// libxdpRetval is the stubs' return value; libxdp adds its bit to every
	// slot's chain-call actions so that an empty slot continues the chain.
	libxdpRetval      = 31
	libxdpProgram     = "xdp_dispatcher"
	libxdpConfigName  = "conf"
	libxdpDefaultPrio = 50
)

// libxdpSubject loads libxdp's dispatcher from path configured for n
// programs, freplaces the test program into prog0..prog(n-1) as libxdp
// does, and attaches the dispatcher to a veth of ns.
func libxdpSubject(ns *benchNS, path, program string, n int) (_ *subject, err error) {
	s := &subject{row: Row{Kind: LibXDP, Program: program, Programs: n}}
	defer closeOnError(s, &err)
	coll, err := loadLibXDP(path, n)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closerFunc(func() error { coll.Close(); return nil }))
	disp := coll.Programs[libxdpProgram]
	s.prog = disp

	ps, err := programSpec(program)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		slot := fmt.Sprintf("prog%d", i)
		es := ps.Copy()
		es.Type = ebpf.Extension
		es.AttachType = ebpf.AttachNone
		es.AttachTarget = disp
		es.AttachTo = slot
		ext, err := ebpf.NewProgram(es)
		if err != nil {
			return nil, fmt.Errorf("loading %s as an extension of libxdp's %s: %w", program, slot, err)
		}
		s.closers = append(s.closers, ext)
		l, err := link.AttachFreplace(disp, slot, ext)
		if err != nil {
			return nil, fmt.Errorf("attaching %s to libxdp's %s: %w", program, slot, err)
		}
		s.closers = append(s.closers, l)
	}
	if err := attachXDP(ns, s, disp); err != nil {
		return nil, err
	}
	return s, nil
}

// loadLibXDP loads libxdp's dispatcher program from path with its .rodata
// configured as libxdp configures it for n programs that proceed on
// XDP_PASS. Its slots still hold their stubs.
func loadLibXDP(path string, n int) (*ebpf.Collection, error) {
	cs, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("reading libxdp dispatcher %s: %w", path, err)
	}
	if _, ok := cs.Programs[libxdpProgram]; !ok {
		return nil, fmt.Errorf("%s has no program %q: not libxdp's xdp-dispatcher.o", path, libxdpProgram)
	}
	cfg := libxdpConfig{Magic: libxdpMagic, Version: libxdpVersion, NumProgsEnabled: uint8(n)}
	for i := 0; i < n; i++ {
		cfg.ChainCallActions[i] = 1<<xdpPass | 1<<libxdpRetval
		cfg.RunPrios[i] = libxdpDefaultPrio
	}
	if err := setStatic(cs, ".rodata", libxdpConfigName, cfg); err != nil {
		return nil, fmt.Errorf("configuring %s: %w", path, err)
	}
	// Leave out the object's other program (xdp_pass).
	for name := range cs.Programs {
		if name != libxdpProgram {
			delete(cs.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		return nil, fmt.Errorf("loading libxdp dispatcher: %w", err)
	}
	return coll, nil
}

// setStatic writes value over the variable name of a data section. libxdp
// declares its configuration static, so it is found through the section's
// BTF rather than among the exported variables.
func setStatic(cs *ebpf.CollectionSpec, section, name string, value any) error {
	ms, ok := cs.Maps[section]
	if !ok {
		return fmt.Errorf("no section %s", section)
	}
	ds, ok := ms.Value.(*btf.Datasec)
	if !ok || len(ms.Contents) != 1 {
		return fmt.Errorf("section %s has no BTF or an unexpected layout", section)
	}
	data, ok := ms.Contents[0].Value.([]byte)
	if !ok {
		return fmt.Errorf("section %s holds %T", section, ms.Contents[0].Value)
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, value); err != nil {
		return err
	}
	for _, vs := range ds.Vars {
		if v, ok := vs.Type.(*btf.Var); !ok || v.Name != name {
			continue
		}
		if int(vs.Size) != buf.Len() || int(vs.Offset)+buf.Len() > len(data) {
			return fmt.Errorf("variable %s is %d bytes, want %d (another libxdp version?)", name, vs.Size, buf.Len())
		}
		data = bytes.Clone(data)
		copy(data[vs.Offset:], buf.Bytes())
		ms.Contents[0].Value = data
		return nil
	}
	return fmt.Errorf("no variable %s in %s", name, section)
}
