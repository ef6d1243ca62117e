package daemon

import (
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// grantsOf returns the grants that apply to the peer: its uid matches the
// grant's user (when it names one) and it is a member of the grant's group
// (when it names one).
func grantsOf(grants []config.Grant, p Peer) []config.Grant {
	var out []config.Grant
	for _, g := range grants {
		if g.UID >= 0 && uint32(g.UID) != p.UID {
			continue
		}
		if g.GID >= 0 && !p.InGroup(uint32(g.GID)) {
			continue
		}
		if g.UID < 0 && g.GID < 0 {
			continue
		}
		out = append(out, g)
	}
	return out
}

// authorizeLoad decides whether the peer may load prog on the interface
// iface (a config Ref). Root may load anywhere. Another user needs a grant
// that covers the interface, the program's priority and its verdicts; a
// program that declares no verdict limit gets the grant's. It returns the
// program as it may be loaded, or an error wrapping chain.ErrPermission that says
// what is missing.
func authorizeLoad(grants []config.Grant, p Peer, iface string, prog dispatcher.Program) (dispatcher.Program, error) {
	if p.UID == 0 {
		return prog, nil
	}
	mine := grantsOf(grants, p)
	if len(mine) == 0 {
		return prog, fmt.Errorf("%w: uid %d has no [[grant]]", chain.ErrPermission, p.UID)
	}
	var why []string
	for _, g := range mine {
		if !g.OnInterface(iface) {
			continue
		}
		if prog.Priority < g.PriorityMin || prog.Priority > g.PriorityMax {
			why = append(why, fmt.Sprintf("priority %d is outside the granted range [%d, %d] (line %d)", prog.Priority, g.PriorityMin, g.PriorityMax, g.Line))
			continue
		}
		out := prog
		if out.Allowed == 0 {
			out.Allowed = dispatcher.AllVerdicts
		}
		if extra := out.Allowed &^ g.Verdicts; extra != 0 {
			if prog.Allowed != 0 {
				why = append(why, fmt.Sprintf("verdicts %s are not granted (line %d grants %s)", extra, g.Line, g.Verdicts))
				continue
			}
			out.Allowed = g.Verdicts
		}
		if out.Allowed == dispatcher.AllVerdicts {
			out.Allowed = 0
		}
		return out, nil
	}
	if len(why) == 0 {
		return prog, fmt.Errorf("%w: uid %d has no grant on interface %q", chain.ErrPermission, p.UID, iface)
	}
	return prog, fmt.Errorf("%w: on interface %q: %s", chain.ErrPermission, iface, strings.Join(why, "; "))
}
