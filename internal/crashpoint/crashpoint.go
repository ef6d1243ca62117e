// Package crashpoint is the one way the tests stop a process at a named
// step of an apply: the dispatcher's (dispatcher.CrashPoints) and the
// daemon's (daemon.CrashPoints). The code that applies calls At at each
// step with the observer that came in with the apply's options
// (dispatcher.Options.Steps, daemon.Options.Steps), never through a
// package variable; without one a step costs a nil check.
package crashpoint

import (
	"os"
	"sync/atomic"
	"syscall"
)

// Observer is told of each named step, in order, on the goroutine that
// reaches it. The options take it as an interface with this method set, so
// that they stay comparable.
type Observer interface{ At(step string) }

// At tells o that step is reached; a nil o is told nothing.
func At(o Observer, step string) {
	if o != nil {
		o.At(step)
	}
}

// Killer kills this process at one occurrence of one step.
type Killer struct {
	step       string
	occurrence int32
	seen       atomic.Int32 // steps are reached by several interfaces' changes at once
}

// Kill returns an Observer that kills this process with SIGKILL the
// occurrence-th time (1: the first) it reaches step, as a crash or an
// out-of-memory kill would: no deferred function, no cleanup runs.
func Kill(step string, occurrence int) *Killer {
	return &Killer{step: step, occurrence: int32(occurrence)}
}

// At implements Observer.
func (k *Killer) At(step string) {
	if step != k.step {
		return
	}
	if k.seen.Add(1) == k.occurrence {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
