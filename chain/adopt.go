package chain

import (
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Adopt takes over an interface's XDP program attached by netlink
// (iproute2, xdp-loader): the interface gets a root whose chain is that
// program (dispatcher.Adopt).
type Adopt struct {
	Interface Interface
	// Name of the program in the chain; empty: its kernel name.
	Name string
	// Mechanism of the new root (auto: Inline).
	Mechanism dispatcher.Mechanism
}

// Leave is the reverse of Adopt: the interface's root, pins and state go,
// and the program Name of its chain stays attached by netlink, alone
// (dispatcher.Root.Leave).
type Leave struct {
	Interface        Interface
	Name             string
	ExpectedRevision *uint64
}

// AdoptOn runs op for actor a (the program's owner) with opts.
func AdoptOn(op Adopt, a Actor, opts *dispatcher.Options) (*dispatcher.Adopted, error) {
	o := withMechanism(opts, op.Mechanism)
	r, ad, err := dispatcher.Adopt(op.Interface.Name, o, dispatcher.AdoptOptions{Name: op.Name, Owner: a.Owner().String()})
	if err != nil {
		return nil, err
	}
	r.Close()
	return ad, nil
}

// LeaveOn runs op with opts and returns the kernel ID of the program left
// attached. With an expected revision the chain must be at it.
func LeaveOn(op Leave, opts *dispatcher.Options) (uint32, error) {
	r, err := dispatcher.Open(op.Interface.Name, opts)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if op.ExpectedRevision != nil {
		st, err := r.Status()
		if err != nil {
			return 0, err
		}
		if err := CheckRevision(op.Interface, st.Revision, op.ExpectedRevision); err != nil {
			return 0, err
		}
	}
	return r.Leave(op.Name)
}
