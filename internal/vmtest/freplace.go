package vmtest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/xdpchain/xdpchain/internal/testenv"
	"golang.org/x/sys/unix"
)

// ErrNoTrampolines is wrapped by ProbeFreplace's error when the kernel
// refuses to load or attach an freplace (BPF_PROG_TYPE_EXT) program.
var ErrNoTrampolines = errors.New("kernel refuses BPF trampolines")

var (
	probeOnce sync.Once
	probeErr  error
)

// ProbeFreplace loads a tiny XDP target and a tiny freplace program
// against its global function, attaches it, and releases both. It returns
// nil when freplace works, and otherwise an error that wraps
// ErrNoTrampolines and the kernel's errno. The result is computed once per
// process.
func ProbeFreplace() error {
	probeOnce.Do(func() { probeErr = probeFreplace() })
	return probeErr
}

func probeFreplace() error {
	fp, err := LoadFreplacePair()
	if err != nil {
		return err
	}
	defer fp.Close()
	l, err := fp.Attach()
	if err != nil {
		return err
	}
	return l.Close()
}

// FreplacePair is the probe's XDP target and its loaded extension.
type FreplacePair struct {
	Target    *ebpf.Program // XDP; returns XDP_PASS until extended
	Extension *ebpf.Program // BPF_PROG_TYPE_EXT replacing probe_slot; returns XDP_DROP
}

// LoadFreplacePair loads the probe's target and its extension. A kernel
// error on the extension is wrapped with ErrNoTrampolines.
func LoadFreplacePair() (*FreplacePair, error) {
	spec, err := loadProbe()
	if err != nil {
		return nil, fmt.Errorf("loading probe spec: %w", err)
	}
	target, err := ebpf.NewProgram(spec.Programs["probe_target"])
	if err != nil {
		return nil, fmt.Errorf("loading freplace target: %w", err)
	}
	extSpec := spec.Programs["probe_ext"].Copy()
	extSpec.AttachTarget = target
	extSpec.AttachTo = "probe_slot"
	ext, err := ebpf.NewProgram(extSpec)
	if err != nil {
		target.Close()
		return nil, trampolineError("loading freplace program", err)
	}
	return &FreplacePair{Target: target, Extension: ext}, nil
}

// Attach attaches the extension to the target's probe_slot.
func (fp *FreplacePair) Attach() (link.Link, error) {
	l, err := link.AttachFreplace(fp.Target, "probe_slot", fp.Extension)
	if err != nil {
		return nil, trampolineError("attaching freplace program", err)
	}
	return l, nil
}

// Close releases both programs.
func (fp *FreplacePair) Close() error {
	return errors.Join(fp.Extension.Close(), fp.Target.Close())
}

func trampolineError(what string, err error) error {
	// cilium/ebpf suggests MEMLOCK on every EPERM; it is not the cause
	// here (memory is accounted by cgroup since 5.11).
	msg := strings.ReplaceAll(err.Error(), " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "")
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%w: %w (%s: %s)", ErrNoTrampolines, errnoName{errno}, what, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrNoTrampolines, what, msg)
}

// errnoName prints an errno by its name (EPERM) and unwraps to it.
type errnoName struct{ errno syscall.Errno }

func (e errnoName) Error() string { return unix.ErrnoName(e.errno) }
func (e errnoName) Unwrap() error { return e.errno }

// RequireFreplace skips the test when the kernel cannot load and attach
// freplace programs, with the probed reason ("kernel refuses BPF
// trampolines: EPERM ..."). When XDPCHAIN_REQUIRE_FREPLACE=1 (as in the
// harness VMs) it fails the test instead: there a skip would hide a
// mechanism that must be tested.
func RequireFreplace(tb testing.TB) {
	tb.Helper()
	err := ProbeFreplace()
	if err == nil {
		return
	}
	if FreplaceRequired() {
		tb.Fatalf("freplace is required on %s (%s=1) but unavailable: %v", Where(), testenv.RequireFreplace, err)
	}
	tb.Skip(err.Error())
}

// ProbeObject returns a copy of the probe's ELF object (bpf/probe.c): two
// XDP programs and an extension, for tests of object handling.
func ProbeObject() []byte { return append([]byte(nil), _ProbeBytes...) }
