// Package xdp holds the XDP actions (verdicts) as one type that the
// dispatcher, the daemon and the plugin SDK share. It imports nothing but
// the standard library, so that a plugin depends on neither netlink nor the
// dispatcher for it. dispatcher.Verdict and sdk.Verdict are this type.
package xdp

import (
	"errors"
	"fmt"
	"strings"
)

// Verdict is an XDP action.
type Verdict uint32

// The XDP actions, in the kernel's numbering.
const (
	Aborted  Verdict = 0
	Drop     Verdict = 1
	Pass     Verdict = 2
	TX       Verdict = 3
	Redirect Verdict = 4
)

// ErrUnknownVerdict: a name that is no verdict.
var ErrUnknownVerdict = errors.New("unknown verdict")

var names = [...]string{"aborted", "drop", "pass", "tx", "redirect"}

// VerdictChoices lists the verdict names as errors say which are valid, in
// ParseVerdict and in the config file's messages.
const VerdictChoices = "aborted, drop, pass, tx or redirect"

// String returns the verdict's lower-case name ("pass").
func (v Verdict) String() string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("verdict(%d)", uint32(v))
}

// Valid reports whether v is one of XDP_ABORTED..XDP_REDIRECT.
func (v Verdict) Valid() bool { return v <= Redirect }

// ParseVerdict parses a verdict name: "pass", "XDP_PASS", "drop", ...
// (case and surrounding space do not matter). Errors wrap
// ErrUnknownVerdict.
func ParseVerdict(s string) (Verdict, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "xdp_")
	for i, n := range names {
		if n == name {
			return Verdict(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want %s)", ErrUnknownVerdict, s, VerdictChoices)
}

// ErrFallthrough: a verdict that cannot be a chain's fall-through verdict.
var ErrFallthrough = errors.New("aborted reports program errors and cannot be the fall-through verdict; use drop")

// CheckFallthrough is the one rule for a chain's fall-through verdict (what
// a packet gets when every program continued): any valid verdict but
// aborted, which reports program errors. The CLI's --fallthrough,
// config.toml's fallthrough, the control socket and the chain edits all
// apply it. Errors wrap ErrFallthrough or ErrUnknownVerdict.
func CheckFallthrough(v Verdict) error {
	if !v.Valid() {
		return fmt.Errorf("%w %s as the fall-through verdict (want %s)", ErrUnknownVerdict, v, VerdictChoices)
	}
	if v == Aborted {
		return ErrFallthrough
	}
	return nil
}

// ParseFallthrough parses a fall-through verdict name: ParseVerdict, then
// CheckFallthrough.
func ParseFallthrough(s string) (Verdict, error) {
	v, err := ParseVerdict(s)
	if err == nil {
		err = CheckFallthrough(v)
	}
	if err != nil {
		return 0, err
	}
	return v, nil
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verdict) UnmarshalText(b []byte) error {
	p, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
