package chain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// Interface names a network interface: the network namespace it lives in
// and its name there. NetNS is canonical (see CanonicalNetNS): a namespace
// given by name and by its /run/netns path is the same Interface.
type Interface struct {
	// NetNS is the namespace's name under /run/netns, a path to a namespace
	// file, or empty for the caller's own namespace.
	NetNS string
	Name  string
}

// NewInterface returns the interface name in netns, with netns in its
// canonical form.
func NewInterface(netns, name string) Interface {
	return Interface{NetNS: CanonicalNetNS(netns), Name: name}
}

// ErrInterfaceRef: an interface reference that names no interface (see
// ParseInterface).
var ErrInterfaceRef = errors.New("invalid interface reference")

// ParseInterface parses an interface reference as String prints it:
// "NAME", or "NETNS/NAME" (NETNS a name or a path: the name is what follows
// the last '/', since interface names hold no '/'). Errors wrap
// ErrInterfaceRef.
func ParseInterface(ref string) (Interface, error) {
	i := strings.LastIndexByte(ref, '/')
	itf := NewInterface("", ref)
	if i >= 0 {
		itf = NewInterface(ref[:i], ref[i+1:])
		if itf.NetNS == "" {
			return Interface{}, fmt.Errorf("%w %q: empty network namespace", ErrInterfaceRef, ref)
		}
	}
	if itf.Name == "" {
		return Interface{}, fmt.Errorf("%w %q: no name", ErrInterfaceRef, ref)
	}
	return itf, nil
}

// String is the interface's reference: its name, or "NETNS/NAME" in
// another network namespace. Config files name interfaces this way
// (grants, plugin and program interface lists).
func (i Interface) String() string {
	if i.NetNS == "" {
		return i.Name
	}
	return i.NetNS + "/" + i.Name
}

// CanonicalNetNS returns the one form of a network namespace reference:
// a path under /run/netns becomes the namespace's name, other paths are
// cleaned, names and "" stay as they are.
func CanonicalNetNS(spec string) string {
	return dispatcher.CanonicalNetNS(spec)
}
