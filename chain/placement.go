package chain

import (
	"fmt"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Placement puts a program immediately before or after another program of
// the chain (at most one of Before and After is set). The chain's order is
// priority, then name; a placement is resolved into a priority when the
// program is loaded (see Priority), so it is the priority the program keeps.
type Placement struct {
	Before string
	After  string
}

// IsZero reports whether no placement is asked for.
func (pl Placement) IsZero() bool { return pl.Before == "" && pl.After == "" }

// Validate checks the placement's shape.
func (pl Placement) Validate() error {
	if pl.Before != "" && pl.After != "" {
		return fmt.Errorf("%w: give before or after, not both", dispatcher.ErrInvalid)
	}
	return nil
}

// Priority returns the priority that puts a program called name
// immediately before (or after) the anchor in chain (which does not hold
// name). Among the priorities that do, it is the anchor's own when the name
// order allows it, else the one nearest to it. It fails with
// dispatcher.ErrNotFound when the anchor is not in the chain, and with
// dispatcher.ErrInvalid when no priority fits: the neighbours' priorities
// leave no room, and a priority must be given instead.
func (pl Placement) Priority(c dispatcher.Chain, name string) (int, error) {
	if err := pl.Validate(); err != nil {
		return 0, err
	}
	anchor, before := pl.After, false
	if pl.Before != "" {
		anchor, before = pl.Before, true
	}
	if anchor == name {
		return 0, fmt.Errorf("%w: %q cannot be placed relative to itself", dispatcher.ErrInvalid, name)
	}
	sorted := c.Sorted()
	at := sorted.Index(anchor)
	if at < 0 {
		return 0, fmt.Errorf("%w: placement anchor %q is not in the chain", dispatcher.ErrNotFound, anchor)
	}
	// The program must sort strictly between lo and hi.
	var lo, hi *dispatcher.Program
	if before {
		hi = &sorted[at]
		if at > 0 {
			lo = &sorted[at-1]
		}
	} else {
		lo = &sorted[at]
		if at+1 < len(sorted) {
			hi = &sorted[at+1]
		}
	}
	// The priorities that sort name strictly between lo and hi form
	// [low, high]; the one nearest the anchor's priority is chosen.
	low, high := dispatcher.MinPriority, dispatcher.MaxPriority
	if lo != nil {
		low = lo.Priority
		if name < lo.Name {
			low++
		}
	}
	if hi != nil {
		high = hi.Priority
		if name > hi.Name {
			high--
		}
	}
	if low <= high {
		return min(max(sorted[at].Priority, low), high), nil
	}
	where := "after"
	if before {
		where = "before"
	}
	return 0, fmt.Errorf("%w: no priority puts %q immediately %s %q (%s); give a priority instead", dispatcher.ErrInvalid, name, where, anchor, neighbours(lo, hi))
}

func neighbours(lo, hi *dispatcher.Program) string {
	s := func(p *dispatcher.Program) string { return fmt.Sprintf("%q has priority %d", p.Name, p.Priority) }
	switch {
	case lo != nil && hi != nil:
		return s(lo) + " and " + s(hi)
	case lo != nil:
		return s(lo)
	case hi != nil:
		return s(hi)
	}
	return "empty chain"
}
