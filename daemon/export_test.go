package daemon

// SetCrashHook makes fn run at every crash point of the daemon's apply
// (CrashPoints), for tests that kill a daemon there.
func SetCrashHook(fn func(step string)) { crashHook = fn }
