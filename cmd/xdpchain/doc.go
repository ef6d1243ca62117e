// Command xdpchain shares an interface's XDP hook between many programs:
// one root dispatcher attached by a pinned bpf_link, an ordered chain of
// programs behind it, and atomic swaps for every change.
//
// The verbs, one file each, all registered in the one table of env.go
// (commands):
//
//   - Changing a chain: load, unload, detach (also `detach --leave NAME`,
//     which hands one program back to netlink), adopt (take over a program
//     attached by netlink: ip link, xdp-loader), run (the daemon) and
//     reload (ask the daemon to re-read its config and wait for the
//     outcome).
//   - Reading: status, top (live rates), explain (how the chain decides
//     one frame), plan (what the daemon would change with a config file),
//     features (what the kernel supports), bench (the dispatcher's cost
//     per packet) and version.
//   - Observing live traffic: dump (pcap of what enters or leaves one
//     program), profile (the time each program costs per packet) and
//     trace (each program's verdict, per packet). They swap in a
//     generation with probes for as long as they run, the chain itself
//     unchanged, and back; the hidden observe-guard restores the plain
//     generation when such a command dies.
//
// Each verb parses its flags and calls package client (which goes through
// the daemon's control socket when a daemon answers, and works on the pins
// otherwise), config, daemon or bench; no kernel logic lives here. Errors
// are printed in one place (run, in env.go).
package main
