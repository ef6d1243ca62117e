// Command xdpchain shares an interface's XDP hook between many programs:
// one root dispatcher attached by a pinned bpf_link, an ordered chain of
// programs behind it, and atomic swaps for every change.
//
// Verbs (one file each): load, unload, detach, status, features, run (the
// daemon) and bench. Each parses its flags and calls the dispatcher, daemon
// or bench package; no kernel logic lives here. load, unload and status go
// through the daemon's control socket when a daemon runs.
package main
