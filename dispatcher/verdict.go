package dispatcher

import (
	"fmt"

	"github.com/xdpchain/xdpchain/xdp"
)

// Verdict is an XDP action: xdp.Verdict, shared with the plugin SDK.
type Verdict = xdp.Verdict

// The XDP actions, in the kernel's numbering.
const (
	Aborted  = xdp.Aborted
	Drop     = xdp.Drop
	Pass     = xdp.Pass
	TX       = xdp.TX
	Redirect = xdp.Redirect
)

// ParseVerdict parses a verdict name: "pass", "XDP_PASS", "drop", ...
// Errors wrap ErrInvalid and xdp.ErrUnknownVerdict.
func ParseVerdict(s string) (Verdict, error) {
	v, err := xdp.ParseVerdict(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return v, nil
}

// CheckFallthrough is xdp.CheckFallthrough, the one rule for a chain's
// fall-through verdict (any but aborted). Errors wrap ErrInvalid.
func CheckFallthrough(v Verdict) error {
	if err := xdp.CheckFallthrough(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// ParseFallthrough parses a fall-through verdict name (xdp.ParseFallthrough).
// Errors wrap ErrInvalid.
func ParseFallthrough(s string) (Verdict, error) {
	v, err := xdp.ParseFallthrough(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return v, nil
}

// VerdictSet is a set of verdicts, one bit per verdict: xdp.VerdictSet,
// shared with the plugin SDK and the plugin protocol.
type VerdictSet = xdp.VerdictSet

// AllVerdicts contains every valid verdict.
const AllVerdicts = xdp.AllVerdicts

// NewVerdictSet returns the set of the given verdicts.
func NewVerdictSet(vs ...Verdict) VerdictSet { return xdp.NewVerdictSet(vs...) }

// ParseVerdictSet parses a comma-separated list of verdict names. The empty
// string is the empty set. Errors wrap ErrInvalid and xdp.ErrUnknownVerdict.
func ParseVerdictSet(s string) (VerdictSet, error) {
	set, err := xdp.ParseVerdictSet(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return set, nil
}
