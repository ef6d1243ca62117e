package dispatcher

import "github.com/xdpchain/xdpchain/internal/crashpoint"

// Crash points are the named steps of an apply, in the order it reaches
// them. A test makes a process die at one (Options.Steps, with
// internal/crashpoint) to check that a crash there leaves the old or the
// new chain, that every view agrees with the kernel, and that the next
// change cleans up. Without Options.Steps a step costs a nil check.
const (
	// CrashPrepared: the slots' maps are created and pinned, the root is
	// emitted; nothing is loaded yet.
	CrashPrepared = "prepared"
	// CrashBuilt: the new generation is loaded, not yet recorded.
	CrashBuilt = "built"
	// CrashPending: the pending state is written, the old generation runs.
	CrashPending = "pending"
	// CrashSwapped: the new generation runs; the state is still pending.
	CrashSwapped = "swapped"
	// CrashCommitted: the state is committed; replaced map pins and the
	// mechanism's own pins are not yet.
	CrashCommitted = "committed"
	// CrashMechanismCommitted: pins are in place; leftovers not yet
	// removed.
	CrashMechanismCommitted = "mechanism-committed"
	// CrashDone: the apply is complete.
	CrashDone = "done"
)

// CrashPoints lists the crash points in order.
var CrashPoints = []string{CrashPrepared, CrashBuilt, CrashPending, CrashSwapped, CrashCommitted, CrashMechanismCommitted, CrashDone}

// crashPoint tells Options.Steps that the apply reached step.
func (r *Root) crashPoint(step string) { crashpoint.At(r.opts.Steps, step) }
