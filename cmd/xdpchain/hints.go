package main

import (
	"errors"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// hint is the advice the CLI adds to an error: the flag that does what the
// error says was not asked for. Library errors name no flags; this is the
// one place that does, for errors made on the pins and by a daemon alike
// (their sentinels cross the control socket).
func hint(err error) string {
	switch {
	case errors.Is(err, chain.ErrExists):
		return " (use --replace)"
	case errors.Is(err, chain.ErrForceable):
		return "; use --force"
	case errors.Is(err, chain.ErrNothingNamed):
		return " (--name or --all)"
	case errors.Is(err, dispatcher.ErrPrivateMountNS):
		return "; run xdpchain outside and pass --netns instead"
	case errors.Is(err, dispatcher.ErrRootMustBeRecreated):
		return " (`xdpchain detach` detaches it)"
	}
	return ""
}
