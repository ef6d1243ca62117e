package dispatcher

import "fmt"

// Mode is how the root is attached to the interface.
type Mode string

// Attach modes.
const (
	// ModeNative attaches in the driver (XDP_FLAGS_DRV_MODE).
	ModeNative Mode = "native"
	// ModeSKB attaches in the generic, skb-based path (XDP_FLAGS_SKB_MODE).
	ModeSKB Mode = "skb"
	// ModeAuto tries native and falls back to skb.
	ModeAuto Mode = "auto"
)

// ModeChoices names the attach modes and what auto means: the one text
// the CLI's help, config.toml's comment, docs/config.md and ParseMode's
// error share (TestChoicesText checks the files).
const ModeChoices = "native, skb or auto (native, else skb)"

// ParseMode parses "native", "skb" (or "generic") and "auto".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "native", "drv", "driver":
		return ModeNative, nil
	case "skb", "generic":
		return ModeSKB, nil
	}
	return "", fmt.Errorf("%w: unknown mode %q (want %s)", ErrInvalid, s, ModeChoices)
}

// MechanismKind is how programs fill the dispatcher's slots.
type MechanismKind string

// Slot mechanisms.
const (
	// Inline writes each program's entry function into the dispatcher's
	// root, so reaching the next program costs a jump instead of a call;
	// its other functions stay subprograms. A program that cannot be
	// inlined (stack too deep, say) is called as with Linked, and Status
	// says why. Works wherever Linked does; the default.
	Inline MechanismKind = "inline"
	// Linked splices each program into the dispatcher as a BPF-to-BPF
	// subprogram. Works on every kernel with bpf_link XDP support.
	Linked MechanismKind = "linked"
	// Freplace attaches each program to its slot as a BPF_PROG_TYPE_EXT
	// program. Needs BPF trampolines.
	Freplace MechanismKind = "freplace"
	// AutoMechanism picks the fastest mechanism the kernel supports:
	// Inline.
	AutoMechanism MechanismKind = "auto"
)

// MechanismChoices names the slot mechanisms and what auto resolves to
// (see ResolveMechanism): the one text the CLI's help, config.toml's
// comment, docs/config.md and ParseMechanism's error share
// (TestChoicesText checks the files).
const MechanismChoices = "inline, linked, freplace or auto (= inline, the fastest)"

// ParseMechanism parses "inline", "linked", "freplace" and "auto".
func ParseMechanism(s string) (MechanismKind, error) {
	switch s {
	case "", "auto":
		return AutoMechanism, nil
	case "inline":
		return Inline, nil
	case "linked", "link":
		return Linked, nil
	case "freplace", "ext":
		return Freplace, nil
	}
	return "", fmt.Errorf("%w: unknown mechanism %q (want %s)", ErrInvalid, s, MechanismChoices)
}

// Default locations.
const (
	DefaultBPFFS    = "/sys/fs/bpf"
	DefaultStateDir = "/run/xdpchain"
)

// Options locate an interface's root and say how to create it. The zero
// value is usable.
type Options struct {
	// NetNS is the network namespace of the interface: a name under
	// /run/netns, or a path to a namespace file (/proc/PID/ns/net). Empty
	// means the caller's.
	NetNS string
	// BPFFS is the bpffs mount for pins. Default /sys/fs/bpf, mounted when
	// absent.
	BPFFS string
	// StateDir keeps program objects and the chain description beside the
	// pins. Default /run/xdpchain.
	StateDir string
	// Mode is the attach mode used when the root is created. Default auto.
	Mode Mode
	// Mechanism is used when the root is created and the Spec names none.
	// Default auto.
	Mechanism MechanismKind
	// VerifierLogs asks for full verifier logs in ProgramErrors.
	VerifierLogs bool
	// Steps, when set, is told of each named step of an apply
	// (CrashPoints), in order: the crash tests stop the process there
	// (internal/crashpoint). Nil in normal use.
	Steps interface{ At(step string) } `json:"-"`
	// ReferenceRoot builds every generation on the reference root of
	// bpf/dispatcher.c, its configuration in .rodata, instead of the
	// emitted one: the same semantics, a few instructions more per slot.
	// The semantics tests run both; normal use leaves it false.
	ReferenceRoot bool
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.BPFFS == "" {
		out.BPFFS = DefaultBPFFS
	}
	out.NetNS = CanonicalNetNS(out.NetNS)
	if out.StateDir == "" {
		out.StateDir = DefaultStateDir
	}
	if out.Mode == "" {
		out.Mode = ModeAuto
	}
	if out.Mechanism == "" {
		out.Mechanism = AutoMechanism
	}
	return out
}
