package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ScratchMaps is a private bpffs holding fresh copies of one program's
// maps, for checking a plugin's settings against maps that serve no
// traffic (`xdpchain run --check`): Maps names each map as the object does
// and as Root.ProgramMaps would, mapped to its pin here. Close unmounts it.
type ScratchMaps struct {
	dir  string
	Maps map[string]string
}

// NewScratchMaps mounts a bpffs of its own in a new temporary directory and
// creates and pins there each map of the program progName of object, empty
// but for the object's data sections, as the dispatcher would create them
// for a new program. No live pin is read or written. It needs the
// privileges of a root (ErrPrivilege).
func NewScratchMaps(object []byte, progName string) (_ *ScratchMaps, err error) {
	if err := requirePrivileges(); err != nil {
		return nil, err
	}
	cs, _, err := objectSpec(object, progName)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "xdpchain-scratch-")
	if err != nil {
		return nil, err
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("%w: mounting a private bpffs at %s: %w", ErrNoBPFFS, dir, err)
	}
	s := &ScratchMaps{dir: dir, Maps: map[string]string{}}
	defer closeOnError(s, &err)
	for name, ms := range cs.Maps {
		ms = ms.Copy()
		ms.Pinning = ebpf.PinNone
		m, err := ebpf.NewMap(ms)
		if err != nil {
			return nil, fmt.Errorf("%w: creating map %q: %w", ErrLoad, name, err)
		}
		path := filepath.Join(dir, pinName(name))
		err = m.Pin(path)
		m.Close()
		if err != nil {
			return nil, fmt.Errorf("pinning map %q: %w", name, err)
		}
		s.Maps[name] = path
	}
	return s, nil
}

// Close unmounts the private bpffs (its maps go with it) and removes its
// directory.
func (s *ScratchMaps) Close() error {
	err := unix.Unmount(s.dir, unix.MNT_DETACH)
	return errors.Join(err, os.Remove(s.dir))
}
