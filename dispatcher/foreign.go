package dispatcher

// Foreign programs: an interface that carries an XDP program not ours is
// refused.

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
)

// checkForeign refuses interfaces that carry an XDP program not ours.
func (r *Root) checkForeign(nl *netlink.Handle) error {
	l, err := nl.LinkByIndex(r.ifindex)
	if err != nil {
		return fmt.Errorf("interface %q: %w", r.ifname, err)
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return nil
	}
	name := "?"
	if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId)); err == nil {
		if info, err := p.Info(); err == nil {
			name = info.Name
		}
		p.Close()
	}
	what := ""
	switch name {
	case "xdp_dispatcher":
		what = " (a libxdp dispatcher: `xdpchain adopt " + r.ifname + "` takes it over with its programs, where the kernel allows BPF trampolines)"
	case rootProgramName:
		what = " (an xdpchain root whose pins are missing: was it attached inside `ip netns exec` or with another bpffs?)"
	}
	return fmt.Errorf("%w: %q carries XDP program %d %q%s; xdpchain will not replace it", ErrForeignProgram, r.ifname, x.ProgId, name, what)
}
