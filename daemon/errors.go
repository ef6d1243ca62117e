package daemon

import (
	"errors"
)

// Sentinel errors of the daemon; test with errors.Is. A chain edit the
// daemon refuses wraps the chain package's errors (chain.ErrPermission,
// chain.ErrOwned, chain.ErrStale, chain.ErrExists), which a client gets back
// across the socket.
var (
	// ErrSocketInUse: another daemon holds the control socket (its lock,
	// or it answers on it).
	ErrSocketInUse = errors.New("another xdpchain daemon is running")
	// ErrSocketPath: something other than a stale socket is at the control
	// socket's path; it is never removed.
	ErrSocketPath = errors.New("control socket path is taken")
)
