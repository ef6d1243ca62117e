// Package bench measures what the xdpchain dispatcher costs per packet.
//
// Run sets up every configuration in one process and measures each with
// BPF_PROG_TEST_RUN (a 64-byte UDP packet, repeat ≥ 1e6 by default):
//
//   - plain: the no-op program loaded alone and attached directly;
//   - monolithic N and monolithic-inline N: the same N no-op programs
//     written by hand as one program (as subprogram calls, or inlined);
//   - linked N and freplace N: the dispatcher with N no-op programs, with
//     counters on and off, built with dispatcher.Attach and Update on a veth
//     pair inside a network namespace that Run creates and removes;
//   - libxdp N: libxdp's own dispatcher object with N no-op programs
//     freplace'd into its slots (when a path to xdp-dispatcher.o is given).
//
// The configurations are measured round-robin, Rounds times each, and every
// row reports the median with the spread of its rounds. Ratios are taken
// against baselines measured in the same run, so they stay meaningful where
// absolute times do not (a VM under TCG).
//
// Rows that need BPF trampolines (freplace, libxdp) are set up even where
// dispatcher.Features says freplace is unavailable (the probe can be wrong,
// and libxdp does not depend on it); where their setup then fails they are
// skipped with the probed reason.
package bench
