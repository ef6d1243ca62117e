package dispatcher

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// mechanism is how a generation's slots get their programs: one
// implementation per Mechanism, each in its own file (inline.go,
// linked.go, freplace.go), each keeping what it needs per slot. All produce
// identical verdict semantics, ordering and counters because the root
// program and its configuration are shared (generation.go, root.go).
//
// An apply (Root.execute) runs place, then build, then commit or abort.
type mechanism interface {
	kind() Mechanism
	// needsStacks reports whether placing a slot needs the stack depths
	// of its program's functions (the verifier's, for a program verified
	// alone).
	needsStacks() bool
	// place decides, before the root is emitted, how each slot of g runs
	// (slot.placed, slot.callReason): written into the root (inlined),
	// called, or extended. It loads nothing.
	place(g *generation) error
	// inlined returns, for a slot place wrote into the root, its body (the
	// instructions the root runs in place of a call) and the functions the
	// body calls; nil for any other slot.
	inlined(s *slot) (body, rest asm.Instructions)
	// build loads g's dispatcher with every slot of g.slots filled and
	// returns it. What it creates is kept by commit or released by abort.
	build(g *generation) (*ebpf.Program, error)
	// commit runs after g has been swapped in: persist what a later process
	// needs and release what the previous generation held.
	commit(g *generation) error
	// abort runs when g will not be swapped in.
	abort(g *generation)
	// cleanup removes leftovers of a crashed apply, given the committed state.
	cleanup(pd pinDir, st *state)
}

// newMechanism returns a new mechanism of kind k, for one generation. Auto
// must have been resolved (ResolveMechanism).
func newMechanism(k Mechanism) (mechanism, error) {
	switch k {
	case Inline:
		return &inlineMechanism{}, nil
	case Linked:
		return linkedMechanism{}, nil
	case Freplace:
		return newFreplaceMechanism(), nil
	}
	return nil, fmt.Errorf("%w: no mechanism %q", ErrInvalid, k)
}

// reasonAuto is why auto gives a new root Inline.
const reasonAuto = "auto: inline is the fastest mechanism and needs no BPF trampolines"

// ResolveMechanism is the one meaning of AutoMechanism: it returns the
// mechanism a root runs when want is asked for and running is the one it
// runs now (AutoMechanism for a root not yet created), with the reason for
// the choice. A mechanism asked for by name is taken ("requested"); auto
// keeps the running mechanism (reason "": the root's own stays), and gives
// a new root Inline: it needs nothing beyond XDP itself and is the fastest
// (a program costs its own instructions, see docs/benchmarks.md); Freplace
// stays available by name where trampolines exist.
func ResolveMechanism(want, running Mechanism) (Mechanism, string) {
	switch {
	case want != AutoMechanism:
		return want, "requested"
	case running != AutoMechanism:
		return running, ""
	}
	return Inline, reasonAuto
}

// MechanismSupport reports, for each slot mechanism, whether this kernel
// can run it and, if not, the kernel's reason: inline and linked need only
// XDP (and bpf() allowed at all: CheckBPF), freplace needs BPF trampolines.
func MechanismSupport() []Feature {
	if CheckBPF() != nil {
		var out []Feature
		for _, m := range []Mechanism{Inline, Linked, Freplace} {
			out = append(out, Feature{Name: string(m), Reason: ErrBPFRefused.Error()})
		}
		return out
	}
	out := []Feature{{Name: string(Inline), Supported: true}, {Name: string(Linked), Supported: true}}
	f := Feature{Name: string(Freplace), Supported: true}
	if err := probeFreplace(); err != nil {
		f.Supported, f.Reason = false, err.Error()
	}
	return append(out, f)
}

// body is what g's root runs for slot s when s is inlined (its
// mechanism's inlined), nil otherwise.
func (g *generation) body(s *slot) asm.Instructions {
	if g.mech == nil {
		return nil
	}
	body, _ := g.mech.inlined(s)
	return body
}

// callEvery places every slot of g called, with reason (empty: none is
// needed, the mechanism calls every slot).
func callEvery(g *generation, reason string) {
	for _, s := range g.slots {
		s.placed, s.callReason = PlacementCall, reason
	}
}
