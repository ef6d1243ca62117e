package chain

import (
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// LoadRequest is a load as a user asks for it (the CLI's load, the control
// socket's Load): an object, the overrides laid over its defaults, and how
// the program goes into the chain. Every client turns it into the same Load
// operation (see Edit), so each field means the same with and without a
// daemon.
type LoadRequest struct {
	Interface Interface
	// Object is the BPF ELF object; ProgramName the XDP function in it
	// (empty: its only one).
	Object      []byte
	ProgramName string
	// Name in the chain (empty: the function's name).
	Name      string
	Overrides Overrides
	// Replace, Force, Placement, ExpectedRevision, Mechanism (parsed
	// where the request was made: ParseMechanism) and Fallthrough are
	// Load's.
	Replace          bool
	Force            bool
	Placement        Placement
	ExpectedRevision *uint64
	Mechanism        dispatcher.Mechanism
	Fallthrough      *dispatcher.Verdict
	// Mode is the attach mode when the interface has no root yet.
	Mode dispatcher.Mode
	// VerifierLog asks for the verifier's log in a *dispatcher.ProgramError
	// when a program is rejected.
	VerifierLog bool
}

// Edit reads the object (its .xdp_run_config defaults), applies the
// overrides and the owner, and returns the Load operation. Errors name the
// program (*dispatcher.ProgramError) where there is one.
func (r LoadRequest) Edit(owner Owner) (Load, error) {
	if r.Interface.Name == "" {
		return Load{}, fmt.Errorf("%w: no interface", dispatcher.ErrInvalid)
	}
	if err := r.Placement.Validate(); err != nil {
		return Load{}, err
	}
	if !r.Placement.IsZero() && r.Overrides.Priority != nil {
		return Load{}, fmt.Errorf("%w: a placement (before or after) chooses the priority; give one or the other", dispatcher.ErrInvalid)
	}
	if err := r.Mode.Validate(); err != nil {
		return Load{}, err
	}
	prog, err := dispatcher.NewProgram(r.Name, r.Object, r.ProgramName)
	if err != nil {
		return Load{}, err
	}
	if prog, err = r.Overrides.Apply(prog); err != nil {
		return Load{}, &dispatcher.ProgramError{Program: prog.Name, Err: err}
	}
	prog.Owner = owner.String()
	return Load{
		Interface: r.Interface, Program: prog, Replace: r.Replace, Force: r.Force, Placement: r.Placement,
		ExpectedRevision: r.ExpectedRevision, Mechanism: r.Mechanism, Fallthrough: r.Fallthrough,
	}, nil
}

// Loaded is a program as a load put it in the chain.
type Loaded struct {
	Name     string
	Owner    string
	Priority int
	// ProceedOn and Allowed (zero: every verdict; a grant may have
	// narrowed it) are in force.
	ProceedOn dispatcher.VerdictSet
	Allowed   dispatcher.VerdictSet
	// Slot is the program's position in a chain of Programs programs.
	Slot, Programs int
	Mechanism      dispatcher.Mechanism
	Mode           dispatcher.Mode
	// Revision is the chain's revision after the load; Changed is false
	// when the load left the chain as it was (the same program again).
	Revision uint64
	Changed  bool
}

// NewLoaded describes program name of the chain st.
func NewLoaded(st *dispatcher.InterfaceStatus, name string, changed bool) (*Loaded, error) {
	for _, ps := range st.Programs {
		if ps.Name != name {
			continue
		}
		l := &Loaded{
			Name: ps.Name, Owner: ps.Owner, Priority: ps.Priority, Slot: ps.Slot, Programs: len(st.Programs),
			Mechanism: st.Mechanism, Mode: st.Mode, Revision: st.Revision, Changed: changed,
		}
		var err error
		if l.ProceedOn, err = dispatcher.ParseVerdictSet(strings.Join(ps.ProceedOn, ",")); err != nil {
			return nil, err
		}
		if l.Allowed, err = dispatcher.ParseVerdictSet(strings.Join(ps.Allowed, ",")); err != nil {
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("%w: %q is not in the chain after loading it", dispatcher.ErrNotFound, name)
}

// Unloaded is what an unload removed.
type Unloaded struct {
	Removed []string
	// Revision is the chain's revision after the unload.
	Revision uint64
}
