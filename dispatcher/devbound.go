package dispatcher

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Device-bound programs (XDP hints). The kernel's XDP metadata kfuncs
// (bpf_xdp_metadata_rx_hash, _rx_timestamp, _rx_vlan_tag) are resolved to
// the driver's implementation when the program is verified, so a program
// calling them must be loaded bound to its device: BPF_F_XDP_DEV_BOUND_ONLY
// and the device's ifindex, which the kernel looks up in the loading
// thread's network namespace. Such a program is verified alone bound to
// the root's interface, and a chain holding one is itself bound: its root
// generations (one kernel program under inline and linked, the extensions'
// target under freplace, whose extensions inherit the binding) are loaded
// with the flag and the ifindex, inside the interface's namespace. A bound
// program runs only on its device, in native mode (the kernel refuses it
// in generic mode), and cannot be run by BPF_PROG_TEST_RUN.

// xdpFlagDevBoundOnly is BPF_F_XDP_DEV_BOUND_ONLY.
const xdpFlagDevBoundOnly = 1 << 6

// deviceKfuncPrefix starts the names of the kfuncs that need a bound
// program.
const deviceKfuncPrefix = "bpf_xdp_metadata_"

// device is the interface a program or generation is bound to.
type device struct {
	ifindex int
	ns      *netNS
}

// callsDeviceKfuncs reports whether insns call a kfunc that only a
// device-bound program may call.
func callsDeviceKfuncs(insns asm.Instructions) bool {
	for _, ins := range insns {
		if ins.IsKfuncCall() && strings.HasPrefix(ins.Reference(), deviceKfuncPrefix) {
			return true
		}
	}
	return false
}

// bind makes spec bound to d; a nil d leaves it as it is.
func (d *device) bind(spec *ebpf.ProgramSpec) {
	if d == nil {
		return
	}
	spec.Flags |= xdpFlagDevBoundOnly
	spec.Ifindex = uint32(d.ifindex)
}

// load runs fn, which loads a program bound to d, in d's network
// namespace, where its ifindex names it; with a nil d, as it is.
func (d *device) load(fn func() error) error {
	if d == nil {
		return fn()
	}
	return d.ns.do(fn)
}

// errBoundGeneric refuses a bound program on a root attached in generic
// mode, where the kernel refuses bound programs (its extack: "Can't attach
// device-bound programs in generic mode"; the link update only says
// EINVAL).
var errBoundGeneric = fmt.Errorf("%w: the program reads XDP hints (bpf_xdp_metadata_* kfuncs), so it and its chain must be bound to the device, and the kernel runs device-bound programs only in native (driver) mode; this interface's root is attached in skb (generic) mode", ErrNotSupported)
