package daemon

import "errors"

// Sentinel errors. The Client maps the control API's status codes back to
// them; test with errors.Is.
var (
	// ErrNotRunning: no daemon listens on the control socket. Callers fall
	// back to working on the pins directly.
	ErrNotRunning = errors.New("xdpchain daemon not running")
	// ErrPermission: the caller may not do this (no grant covers it, or the
	// program belongs to someone else).
	ErrPermission = errors.New("permission denied")
	// ErrOwned: a program of that name belongs to another owner; root may
	// force.
	ErrOwned = errors.New("program belongs to another owner")
	// ErrReload: a new config was refused; the previous one stays in force.
	ErrReload = errors.New("config not applied")
	// ErrSocketInUse: another daemon holds the control socket (its lock,
	// or it answers on it).
	ErrSocketInUse = errors.New("another xdpchain daemon is running")
	// ErrSocketPath: something other than a stale socket is at the control
	// socket's path; it is never removed.
	ErrSocketPath = errors.New("control socket path is taken")
)
