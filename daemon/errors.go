package daemon

import (
	"errors"

	"github.com/xdpchain/xdpchain/chain"
)

// Sentinel errors. The Client maps the control API's status codes back to
// them; test with errors.Is.
var (
	// ErrNotRunning: no daemon listens on the control socket. Callers fall
	// back to working on the pins directly.
	ErrNotRunning = errors.New("xdpchain daemon not running")
	// ErrPermission is chain.ErrPermission: the caller may not do this (no
	// grant covers it, or the program belongs to someone else).
	ErrPermission = chain.ErrPermission
	// ErrOwned is chain.ErrOwned: a program of that name belongs to another
	// owner; root may force.
	ErrOwned = chain.ErrOwned
	// ErrStale is chain.ErrStale: the chain's revision is not the expected
	// one.
	ErrStale = chain.ErrStale
	// ErrExists is chain.ErrExists: the name is taken and no replace was
	// asked for.
	ErrExists = chain.ErrExists
	// ErrReload: a new config was refused; the previous one stays in force.
	ErrReload = errors.New("config not applied")
	// ErrSocketInUse: another daemon holds the control socket (its lock,
	// or it answers on it).
	ErrSocketInUse = errors.New("another xdpchain daemon is running")
	// ErrSocketPath: something other than a stale socket is at the control
	// socket's path; it is never removed.
	ErrSocketPath = errors.New("control socket path is taken")
)
