package api

import (
	"errors"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Sentinel errors of the control API; test with errors.Is. A refused chain
// edit wraps the chain package's errors (chain.ErrPermission, chain.ErrOwned,
// ...), which cross the socket as they are.
var (
	// ErrNotRunning: no daemon listens on the control socket (or it
	// stopped). Callers fall back to working on the pins directly.
	ErrNotRunning = errors.New("xdpchain daemon not running")
	// ErrReload: a new config was refused; the previous one stays in force.
	ErrReload = errors.New("config not applied")
)

// MaxMessage bounds a control message: one object (dispatcher.MaxObjectSize)
// and its fields.
const MaxMessage = dispatcher.MaxObjectSize + 1<<20
