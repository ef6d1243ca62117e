// Package dispatcher keeps a chain of XDP programs on a network interface
// behind one root dispatcher program.
//
// The root is attached by a bpf_link pinned in bpffs, so other tools cannot
// replace it through netlink, and it outlives the process. It runs up to
// MaxPrograms programs in order, each in a slot, after its proceed-on and
// allowed verdicts, counting each packet once where it ends. Each
// generation's root is emitted with its configuration folded into the
// instructions (root.go); bpf/dispatcher.c holds the slot stubs, maps and
// the reference root the semantics tests compare against. A slot mechanism
// (Options.Mechanism, Spec.Mechanism) puts the programs into their slots:
//
//   - Inline (the default; AutoMechanism resolves to it): each program's
//     entry function is written into the root itself, so reaching the next
//     program costs a jump instead of a call; its other functions stay
//     subprograms. A program that cannot be inlined (too deep a stack, an
//     entry function that tail calls) is called instead, and Status says
//     which and why. Works without BPF trampolines.
//   - Linked: the program's instructions are spliced into the dispatcher as
//     BPF-to-BPF subprograms, called from their slot. Works without BPF
//     trampolines.
//   - Freplace: the program is loaded as BPF_PROG_TYPE_EXT and attached to its
//     slot. Needs BPF trampolines.
//
// Every change builds a new generation of the dispatcher and swaps it in
// with BPF_LINK_UPDATE (compare-and-swap), so traffic always meets the old
// or the new chain, and a failed change leaves the running chain untouched.
// Update runs an edit of the committed Spec; Apply replaces it.
//
// Beyond the chain: Adopt takes over a program attached by netlink and
// Root.Leave hands one back; Root.Observe swaps in a generation with probes
// (captures, traces, profiles) for as long as an observer holds its lease,
// the chain unchanged; Root.Explain shows how the chain decides one frame;
// Features and CheckBPF say what the kernel allows.
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
// The code is laid out one concept per file: docs/ARCHITECTURE.md has the
// table.
package dispatcher
