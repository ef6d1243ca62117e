// Package bench measures what the xdpchain dispatcher costs per packet.
//
// Run sets up every configuration in one process and measures each with
// BPF_PROG_TEST_RUN (a 64-byte UDP packet, repeat ≥ 1e6 by default), for
// each test program (Options.Programs: noop, which returns XDP_PASS, and
// udp, which parses Ethernet, IPv4 and UDP with bounds checks and compares
// the destination port with a constant the packet does not match), one
// phase per program:
//
//   - plain: the test program loaded alone and attached directly;
//   - monolithic N and monolithic-inline N: N bodies of the test program
//     written by hand as one program (as subprogram calls, or inlined back
//     to back, kept apart so clang cannot merge them);
//   - tailcall N: an L3AF/Katran-style chain of N programs, each its own
//     kernel program tail-calling the next with a constant key (a direct
//     jump once JITed), up to the kernel's 33 tail calls (N ≤ 34);
//   - linked N, inline N, freplace N (Options.Mechanisms): the dispatcher
//     with N copies of the test program, with counters on and off, built
//     with dispatcher.Attach and Update on a veth pair inside a network
//     namespace that Run creates and removes;
//   - libxdp N: libxdp's own dispatcher object with N copies freplace'd
//     into its slots (when a path to xdp-dispatcher.o is given).
//
// The configurations of a phase are measured round-robin, Rounds times
// each, and every row reports the median with the spread of its rounds.
// Ratios are taken against baselines of the same run and test program (the
// plain program, and the monolithic program, the back-to-back program and
// the tail-call chain of the same N), so they stay meaningful where
// absolute times do not (a VM under TCG). After the phases, Run times one
// Update per round that swaps a changed chain of SwapPrograms programs
// (default 64) in, per mechanism (SwapTime).
//
// Rows that need BPF trampolines (freplace, libxdp) are set up even where
// dispatcher.Features says freplace is unavailable (the probe can be wrong,
// and libxdp does not depend on it); where their setup then fails they are
// skipped with the probed reason.
package bench
