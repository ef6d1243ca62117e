package dispatcher

// UseReferenceRoot switches generations to the C root of bpf/dispatcher.c
// (true) or the emitted root (false), for differential tests.
func UseReferenceRoot(on bool) { referenceRoot = on }

// SetCrashHook makes every crash point of an apply call hook (nil: none).
func SetCrashHook(hook func(step string)) { crashHook = hook }
