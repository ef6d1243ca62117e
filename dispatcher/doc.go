// Package dispatcher keeps a chain of XDP programs on a network interface
// behind one root dispatcher program.
//
// The root (bpf/dispatcher.c) is attached by a bpf_link pinned in bpffs, so
// other tools cannot replace it through netlink, and it outlives the process.
// It calls up to MaxPrograms slot functions in order; each slot holds one
// Program, placed there by a slot mechanism:
//
//   - Linked: the program's instructions are spliced into the dispatcher as
//     BPF-to-BPF subprograms. Works without BPF trampolines.
//   - Freplace: the program is loaded as BPF_PROG_TYPE_EXT and attached to its
//     slot. Needs BPF trampolines.
//
// Every change builds a new generation of the dispatcher with its
// configuration in .rodata and swaps it in with BPF_LINK_UPDATE
// (compare-and-swap), so traffic always meets the old or the new chain, and
// a failed change leaves the running chain untouched.
//
// Typical use:
//
//	r, err := dispatcher.Attach("eth0", &dispatcher.Options{NetNS: "blue"})
//	...
//	p, err := dispatcher.NewProgram("filter", elfBytes, "")
//	changed, err := r.Update(func(s *dispatcher.Spec) error {
//		s.Programs = append(s.Programs, p)
//		return nil
//	})
//	st, err := r.Status()
//
// Errors wrap the package's sentinels (ErrInvalid, ErrLoad,
// ErrForeignProgram, ErrNotAttached, ...); an error about one program is a
// *ProgramError naming it, with the verifier log when Options.VerifierLogs
// is set. State lives in bpffs pins and a state directory; see docs/pins.md.
package dispatcher
