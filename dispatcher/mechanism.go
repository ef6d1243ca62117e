package dispatcher

import (
	"fmt"
	"sync"

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
	case Linked:
		return linkedMechanism{}, nil
	case Freplace:
		return newFreplaceMechanism()
	}
	return nil, fmt.Errorf("%w: no mechanism %q", ErrInvalid, k)
}

var autoMechanism struct {
	once   sync.Once
	kind   MechanismKind
	reason string
}

// ResolveMechanism turns AutoMechanism into the mechanism this kernel
// supports, with the reason for the choice. Other kinds are returned as
// they are.
func ResolveMechanism(k MechanismKind) (MechanismKind, string) {
	if k != AutoMechanism && k != "" {
		return k, "requested"
	}
	autoMechanism.once.Do(func() {
		if err := probeFreplace(); err != nil {
			autoMechanism.kind = Linked
			autoMechanism.reason = "freplace unavailable: " + err.Error()
			return
		}
		autoMechanism.kind = Freplace
		autoMechanism.reason = "kernel supports freplace"
	})
	return autoMechanism.kind, autoMechanism.reason
}
