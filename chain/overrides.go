package chain

import (
	"fmt"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Overrides are the settings a command line or a config section lays over
// a program's own defaults (its object's .xdp_run_config, or what a plugin
// declares). A nil field keeps the program's value.
type Overrides struct {
	Priority  *int
	ProceedOn *dispatcher.VerdictSet
	// Allowed narrows the verdicts the program may return: a program that
	// declares no limit gets Allowed; one that declares a limit keeps the
	// verdicts in both. It never widens what a program declares.
	Allowed *dispatcher.VerdictSet
	Shadow  *bool
}

// Apply returns p with the overrides in force. It fails with an error
// wrapping dispatcher.ErrInvalid when Allowed and the program's own limit
// have no verdict in common, or a set has unknown verdict bits.
func (o Overrides) Apply(p dispatcher.Program) (dispatcher.Program, error) {
	if o.Priority != nil {
		p.Priority = *o.Priority
	}
	if o.ProceedOn != nil {
		if *o.ProceedOn&^dispatcher.AllVerdicts != 0 {
			return p, fmt.Errorf("%w: proceed-on has unknown verdict bits %#x", dispatcher.ErrInvalid, uint32(*o.ProceedOn))
		}
		p.ProceedOn = *o.ProceedOn
	}
	if o.Allowed != nil && *o.Allowed != 0 && *o.Allowed != dispatcher.AllVerdicts {
		want := *o.Allowed
		if want&^dispatcher.AllVerdicts != 0 {
			return p, fmt.Errorf("%w: allowed has unknown verdict bits %#x", dispatcher.ErrInvalid, uint32(want))
		}
		switch {
		case p.Allowed == 0:
			p.Allowed = want
		case p.Allowed&want == 0:
			return p, fmt.Errorf("%w: allowed verdicts %s and the program's own %s have no verdict in common", dispatcher.ErrInvalid, want, p.Allowed)
		default:
			p.Allowed &= want
		}
	}
	if o.Shadow != nil {
		p.Shadow = *o.Shadow
	}
	return p, nil
}
