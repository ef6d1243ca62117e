package dispatcher

import (
	"fmt"
	"slices"
)

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

// modeNames is the one list of attach-mode names: each mode's name first,
// then the aliases ParseMode also accepts.
var modeNames = nameTable[Mode]{
	{ModeAuto, []string{"auto", ""}},
	{ModeNative, []string{"native", "drv", "driver"}},
	{ModeSKB, []string{"skb", "generic"}},
}

// ParseMode parses an attach mode's name ("native", "skb", "auto" or
// empty) or alias ("drv", "driver", "generic"): the CLI's --mode,
// config.toml's mode and the control socket's requests (UnmarshalText:
// JSON and the state file).
func ParseMode(s string) (Mode, error) {
	if m, ok := modeNames.lookup(s); ok {
		return m, nil
	}
	return "", unknownMode(s)
}

func unknownMode(s string) error {
	return fmt.Errorf("%w: unknown mode %q (want %s)", ErrInvalid, s, ModeChoices)
}

// Validate returns nil for a mode ParseMode returns (or the zero value,
// auto), and ParseMode's error for any other value a Go caller set.
func (m Mode) Validate() error {
	if m == "" {
		return nil
	}
	for _, n := range modeNames {
		if m == n.value {
			return nil
		}
	}
	return unknownMode(string(m))
}

// MarshalText implements encoding.TextMarshaler: the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMode; the
// empty text is the zero value (no mode recorded).
func (m *Mode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = ""
		return nil
	}
	p, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = p
	return nil
}

// Mechanism is how programs fill the dispatcher's slots: Inline,
// Linked, Freplace, or AutoMechanism (the zero value). It is parsed once,
// where it enters (ParseMechanism: the CLI's flag, config.toml, the control
// socket; UnmarshalText: JSON and the state file), and carried as this type
// to the mechanism that builds the generation (mechanism.go).
type Mechanism string

// Slot mechanisms.
const (
	// Inline writes each program's entry function into the dispatcher's
	// root, so reaching the next program costs a jump instead of a call;
	// its other functions stay subprograms. A program that cannot be
	// inlined (stack too deep, say) is called as with Linked, and Status
	// says why. Works wherever Linked does; the default.
	Inline Mechanism = "inline"
	// Linked splices each program into the dispatcher as a BPF-to-BPF
	// subprogram. Works on every kernel with bpf_link XDP support.
	Linked Mechanism = "linked"
	// Freplace attaches each program to its slot as a BPF_PROG_TYPE_EXT
	// program. Needs BPF trampolines.
	Freplace Mechanism = "freplace"
	// AutoMechanism, the zero value, asks for no mechanism in particular:
	// a root keeps the mechanism it runs, and a new root gets Inline
	// (ResolveMechanism, the one place that decides it). Printed "auto".
	AutoMechanism Mechanism = ""
)

// MechanismChoices names the slot mechanisms and what auto resolves to
// (see ResolveMechanism): the one text the CLI's help, config.toml's
// comment, docs/config.md and ParseMechanism's error share
// (TestChoicesText checks the files).
const MechanismChoices = "inline, linked, freplace or auto (= inline, the fastest, for a new root; a root keeps its own)"

// mechanismNames is the one list of mechanism names: each kind's name
// first, then the aliases ParseMechanism also accepts.
var mechanismNames = nameTable[Mechanism]{
	{AutoMechanism, []string{"auto", ""}},
	{Inline, []string{"inline"}},
	{Linked, []string{"linked", "link"}},
	{Freplace, []string{"freplace", "ext"}},
}

// ParseMechanism parses a mechanism's name ("inline", "linked", "freplace",
// "auto" or empty) or alias ("link", "ext").
func ParseMechanism(s string) (Mechanism, error) {
	if m, ok := mechanismNames.lookup(s); ok {
		return m, nil
	}
	return "", fmt.Errorf("%w: unknown mechanism %q (want %s)", ErrInvalid, s, MechanismChoices)
}

// String is the mechanism's name; "auto" for AutoMechanism.
func (k Mechanism) String() string {
	if k == AutoMechanism {
		return "auto"
	}
	return string(k)
}

// MarshalText implements encoding.TextMarshaler: the mechanism's name.
func (k Mechanism) MarshalText() ([]byte, error) {
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseMechanism.
func (k *Mechanism) UnmarshalText(b []byte) error {
	m, err := ParseMechanism(string(b))
	if err != nil {
		return err
	}
	*k = m
	return nil
}

// nameTable is a list of values, each with its name first and then the
// aliases its parser also accepts: the one shape of modeNames and
// mechanismNames.
type nameTable[T any] []struct {
	value T
	names []string
}

// lookup returns the value that s names, if any does.
func (t nameTable[T]) lookup(s string) (T, bool) {
	for _, e := range t {
		if slices.Contains(e.names, s) {
			return e.value, true
		}
	}
	var zero T
	return zero, false
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
	// Mechanism is the mechanism of a root Attach creates (auto: Inline);
	// an existing root keeps its own (a Spec changes it).
	Mechanism Mechanism
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
	return out
}
