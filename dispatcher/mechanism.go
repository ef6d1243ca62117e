package dispatcher

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// mechanism is how a generation's slots get their programs. linked.go and
// freplace.go implement it; both produce identical verdict semantics,
// ordering and counters because the root program and its configuration are
// shared (generation.go).
type mechanism interface {
	kind() MechanismKind
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

func newMechanism(k MechanismKind) (mechanism, error) {
	switch k {
	case Inline:
		return linkedMechanism{inline: true}, nil
	case Linked:
		return linkedMechanism{}, nil
	case Freplace:
		return newFreplaceMechanism()
	}
	return nil, fmt.Errorf("%w: no mechanism %q", ErrInvalid, k)
}

// ResolveMechanism turns AutoMechanism into the mechanism xdpchain uses on
// this kernel, with the reason for the choice. Other kinds are returned as
// they are. Auto is Inline: it needs nothing beyond XDP itself and is the
// fastest (a program costs its own instructions, see docs/benchmarks.md);
// Freplace stays available by name where trampolines exist.
func ResolveMechanism(k MechanismKind) (MechanismKind, string) {
	if k != AutoMechanism && k != "" {
		return k, "requested"
	}
	return Inline, "auto: inline is the fastest mechanism and needs no BPF trampolines"
}

// MechanismSupport reports, for each slot mechanism, whether this kernel
// can run it and, if not, the kernel's reason: inline and linked need only
// XDP (and bpf() allowed at all: CheckBPF), freplace needs BPF trampolines.
func MechanismSupport() []Feature {
	if CheckBPF() != nil {
		var out []Feature
		for _, m := range []MechanismKind{Inline, Linked, Freplace} {
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
