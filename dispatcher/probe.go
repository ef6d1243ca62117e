package dispatcher

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Feature is one probed kernel capability.
type Feature struct {
	Name      string `json:"name"`
	Supported bool   `json:"supported"`
	// Reason explains a missing feature (the kernel's error).
	Reason string `json:"reason,omitempty"`
}

// bpfSyscall names the first feature: the bpf() system call allowed at all
// (CheckBPF).
const bpfSyscall = "bpf() system call"

// Features probes what this kernel supports for xdpchain: the bpf() system
// call being allowed (CheckBPF; when it is not, nothing else is probed and
// each feature gives that reason), bpf_link XDP
// attachment, link update, freplace (BPF trampolines), multi-buffer (frags)
// programs and BPF_PROG_TEST_RUN. Probes run in a private network namespace
// and leave nothing behind.
func Features() []Feature {
	feat := func(name string, err error) Feature {
		f := Feature{Name: name, Supported: err == nil}
		if err != nil {
			f.Reason = err.Error()
		}
		return f
	}
	if err := CheckBPF(); err != nil {
		// Nothing else can be probed: the first says why, the others
		// that it is why.
		return []Feature{
			feat(bpfSyscall, err),
			feat("bpf_link XDP attach (5.9)", ErrBPFRefused),
			feat("bpf_link XDP update (5.9)", ErrBPFRefused),
			feat("freplace / BPF trampolines (5.6)", ErrBPFRefused),
			feat("XDP multi-buffer frags (5.18)", ErrBPFRefused),
			feat("BPF_PROG_TEST_RUN for XDP (4.15)", ErrBPFRefused),
		}
	}
	linkErr, updateErr := probeXDPLink()
	return []Feature{
		feat(bpfSyscall, nil),
		feat("bpf_link XDP attach (5.9)", linkErr),
		feat("bpf_link XDP update (5.9)", updateErr),
		feat("freplace / BPF trampolines (5.6)", probeFreplace()),
		feat("XDP multi-buffer frags (5.18)", probeFrags()),
		feat("BPF_PROG_TEST_RUN for XDP (4.15)", probeTestRun()),
	}
}

func passProgram(flags uint32) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Flags:   flags,
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, int32(Pass)),
			asm.Return(),
		},
	})
}

func probeTestRun() error {
	p, err := passProgram(0)
	if err != nil {
		return fmt.Errorf("loading XDP program: %w", err)
	}
	defer p.Close()
	ret, err := p.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	if err != nil {
		return err
	}
	if ret != uint32(Pass) {
		return fmt.Errorf("test run returned %d, want %d", ret, Pass)
	}
	return nil
}

func probeFrags() error {
	p, err := passProgram(xdpFlagHasFrags)
	if err != nil {
		return err
	}
	return p.Close()
}

// probeXDPLink attaches a program by bpf_link to lo of a fresh network
// namespace, then updates the link.
func probeXDPLink() (attachErr, updateErr error) {
	p, err := passProgram(0)
	if err != nil {
		return err, err
	}
	defer p.Close()
	err = inTempNetNS(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: p, Interface: lo.Attrs().Index, Flags: link.XDPGenericMode})
		if err != nil {
			attachErr = err
			updateErr = errors.New("no XDP link to update")
			return nil
		}
		defer l.Close()
		updateErr = l.Update(p)
		return nil
	})
	if err != nil {
		return err, err
	}
	return attachErr, updateErr
}

// inTempNetNS runs fn on a locked thread inside a new, empty network
// namespace that disappears afterwards.
func inTempNetNS(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("creating network namespace: %w", err)
	}
	defer ns.Close()
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return err // thread stays locked and is discarded
	}
	runtime.UnlockOSThread()
	return ferr
}

// probeFreplace loads an empty dispatcher and an extension program for its
// first slot, and attaches it. On kernels that refuse BPF trampolines it
// returns an error saying so.
func probeFreplace() error {
	// One live slot: newer kernels refuse to extend an unreachable one.
	g := &generation{fallthrough_: Pass, slots: []*slot{{Program: Program{ProceedOn: DefaultProceedOn}, counter: 1}}}
	stats, err := newStatsMap(maxCounters + 1)
	if err != nil {
		return err
	}
	defer stats.Close()
	g.stats = stats
	if err := g.prepareRoot(); err != nil {
		return err
	}
	defer g.close()
	target, err := loadProgram(rootProgramName, g.rootSpec, false)
	if err != nil {
		return err
	}
	defer target.Close()
	base, err := dispatcherSpec()
	if err != nil {
		return err
	}
	var stub function
	_, stubs := rootFunctions(base.Programs[rootProgramName].Copy())
	for _, f := range stubs {
		if f.name == slotSymbol(1) {
			stub = f
		}
	}
	ext, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "xdpchain_probe",
		Type:         ebpf.Extension,
		License:      "GPL",
		AttachTarget: target,
		AttachTo:     slotSymbol(0),
		Instructions: stub.insns,
	})
	if err != nil {
		return trampolineError(err)
	}
	defer ext.Close()
	l, err := link.AttachFreplace(target, slotSymbol(0), ext)
	if err != nil {
		return trampolineError(err)
	}
	return l.Close()
}

// trampolineError explains a failed freplace load or attach: EPERM is this
// kind of kernel refusing BPF trampolines; anything else is passed on.
func trampolineError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: kernel refuses BPF trampolines: EPERM (operation not permitted)", ErrNotSupported)
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	return err
}
