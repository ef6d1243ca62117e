package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// workDir is a run's temporary directory: the dispatchers' state, and
// optionally a bpffs of the run's own for their pins.
type workDir struct {
	dir     string
	mounted bool
}

func newWorkDir(withBPFFS bool) (_ *workDir, err error) {
	var dir string
	// A minimal system (a VM's initramfs) may lack /tmp.
	for _, parent := range []string{os.TempDir(), "/run", "/"} {
		dir, err = os.MkdirTemp(parent, "xdpchain-bench-")
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating a work directory: %w", err)
	}
	w := &workDir{dir: dir}
	defer closeOnError(w, &err)
	if err := os.Mkdir(w.state(), 0o700); err != nil {
		return nil, err
	}
	if withBPFFS {
		if err := os.Mkdir(w.bpffs(), 0o700); err != nil {
			return nil, err
		}
		if err := unix.Mount("bpf", w.bpffs(), "bpf", 0, "mode=0700"); err != nil {
			return nil, fmt.Errorf("mounting a bpffs at %s: %w", w.bpffs(), err)
		}
		w.mounted = true
	}
	return w, nil
}

func (w *workDir) state() string { return filepath.Join(w.dir, "state") }
func (w *workDir) bpffs() string { return filepath.Join(w.dir, "bpffs") }

// Close unmounts the bpffs, which releases every pin left in it, and
// removes the directory.
func (w *workDir) Close() error {
	var errs []error
	if w.mounted {
		if err := unix.Unmount(w.bpffs(), unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", w.bpffs(), err))
		} else {
			w.mounted = false
		}
	}
	if !w.mounted {
		errs = append(errs, os.RemoveAll(w.dir))
	}
	return errors.Join(errs...)
}
