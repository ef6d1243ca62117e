package daemon

import "github.com/xdpchain/xdpchain/internal/crashpoint"

// Crash points are the named steps of the daemon's apply (its reconcile of
// every interface with a config, at start, on reload and on a config
// change), in the order it reaches them. A test makes a daemon process die
// at one (Options.Steps, with internal/crashpoint) and checks that every
// interface's chain is the old or the new one, that status agrees with the
// kernel, and that the next daemon converges and leaves nothing behind.
// Without Options.Steps a step costs a nil check. Each dispatcher apply
// inside has crash points of its own (dispatcher.CrashPoints).
const (
	// CrashPluginsStarted: the config's new plugin processes run and have
	// validated their settings; no chain has changed.
	CrashPluginsStarted = "plugins-started"
	// CrashRootOpened: an interface's root is opened, or attached when it
	// had none; its chain has not changed yet (other interfaces' may have:
	// the apply changes several at once). Reached once per interface the
	// daemon did not hold.
	CrashRootOpened = "root-opened"
	// CrashInterfaceApplied: one interface's chain is swapped. Reached
	// once per changed interface; the apply changes several interfaces at
	// once, so others may be swapped too, or be under way.
	CrashInterfaceApplied = "interface-applied"
	// CrashChainsApplied: every chain follows the config (interfaces that
	// left it have lost the daemon's programs); new plugins have not been
	// given their maps.
	CrashChainsApplied = "chains-applied"
	// CrashConfigured: the plugins have their maps and settings; processes
	// of the old config still run.
	CrashConfigured = "configured"
	// CrashReconciled: the apply is complete and committed.
	CrashReconciled = "reconciled"
)

// CrashPoints lists the crash points in order.
var CrashPoints = []string{CrashPluginsStarted, CrashRootOpened, CrashInterfaceApplied, CrashChainsApplied, CrashConfigured, CrashReconciled}

// crashPoint tells Options.Steps that the apply reached step.
func (d *Daemon) crashPoint(step string) { crashpoint.At(d.opts.Steps, step) }
