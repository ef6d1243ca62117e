package dispatcher

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Adopting and leaving: the hand-over between a program attached by
// netlink (iproute2, xdp-loader) and an xdpchain root, in both directions.
//
// A program xdpchain has no ELF object of, already in the kernel, runs in
// a chain through the built-in call slot (bpf/call.c): the program is the
// only entry of the slot's PROG_ARRAY, pinned with the slot's maps, and
// the slot tail-calls it from a subprogram frame, so its verdict comes
// back to the chain (counted, proceed-on applied) on every mechanism.
//
// The kernel lets a bpf_link attach only where no program is attached in
// that mode (and native and generic programs never coexist), and a
// netlink attach is refused where a link is: a hand-over is a netlink
// detach and a link attach (or the reverse), back to back. Between the two
// the interface runs no XDP program; everything else (loading, verifying,
// building the chain) is done before or after, while one of the two runs.

const (
	callProgramName = "xdpchain_call"
	callTargetMap   = "xdpchain_target"
)

// callObject is the ELF object of the built-in call slot.
func callObject() []byte { return append([]byte(nil), _CallBytes...) }

// isCallSlot reports whether a committed program is the built-in call slot
// (an adopted program).
func isCallSlot(ps *programState) bool {
	if ps.ProgramName != callProgramName {
		return false
	}
	sum := sha256.Sum256(_CallBytes)
	return ps.Object == fmt.Sprintf("%x", sum[:])
}

// AdoptOptions says how an adopted program enters the chain.
type AdoptOptions struct {
	// Name of the program in the chain; default: its kernel name (dots
	// as '_'), or "adopted" when it has none.
	Name string
	// Owner is recorded with the program (see Program.Owner).
	Owner string
}

// Adopted is what Adopt took over.
type Adopted struct {
	// Name is the program's name in the chain, ID its kernel ID and
	// KernelName the name the kernel knows it by.
	Name       string
	ID         uint32
	KernelName string
	Mode       Mode
}

// Adopt gives an interface whose XDP program was attached by netlink an
// xdpchain root whose chain is that program, in the same mode. The
// program keeps running as the kernel object it is (its maps and state
// untouched), tail-called by the call slot. A libxdp dispatcher is adopted
// with its components (libxdp.go): the chain is those extension programs,
// in libxdp's order with its priorities and chain-call actions, under the
// freplace mechanism (ErrNotSupported with the kernel's reason where it
// refuses trampolines; ErrInvalid for a name, or another mechanism); its
// Adopted.Name lists their names in chain order, comma-separated. It
// returns ErrNotAttached-free errors: ErrInvalid when the interface
// carries no program, an offloaded one or an xdpchain root; ErrForeignProgram when
// another process changed the interface's program meanwhile. On any error
// the interface is left with its program attached by netlink.
//
// The hand-over (netlink detach, link attach of the same program) is two
// syscalls back to back; the chain's generation is built afterwards and
// swapped in with the link's compare-and-swap while the program runs alone
// under the link.
func Adopt(ifname string, opts *Options, ao AdoptOptions) (_ *Root, _ *Adopted, err error) {
	o := opts.withDefaults()
	if err := requirePrivileges(); err != nil {
		return nil, nil, err
	}
	if err := ensureBPFFS(o.BPFFS); err != nil {
		return nil, nil, err
	}
	ns, err := openNetNS(o.NetNS)
	if err != nil {
		return nil, nil, err
	}
	r := &Root{opts: o, ifname: ifname, ns: ns}
	defer closeOnError(r, &err)
	h, err := ns.netlink()
	if err != nil {
		return nil, nil, fmt.Errorf("netlink: %w", err)
	}
	l, err := h.LinkByName(ifname)
	h.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	r.ifindex = l.Attrs().Index
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return nil, nil, fmt.Errorf("%w: %q carries no XDP program: nothing to adopt", ErrInvalid, ifname)
	}
	var mode Mode
	switch x.AttachMode {
	case nl.XDP_ATTACHED_DRV:
		mode = ModeNative
	case nl.XDP_ATTACHED_SKB:
		mode = ModeSKB
	default:
		return nil, nil, fmt.Errorf("%w: %q carries XDP program %d in attach mode %d (offloaded or several modes): only a native or generic program can be adopted", ErrInvalid, ifname, x.ProgId, x.AttachMode)
	}
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId))
	if err != nil {
		return nil, nil, fmt.Errorf("opening XDP program %d of %q: %w", x.ProgId, ifname, err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		return nil, nil, fmt.Errorf("XDP program %d of %q: %w", x.ProgId, ifname, err)
	}
	switch info.Name {
	case rootProgramName:
		return nil, nil, fmt.Errorf("%w: %q already runs an xdpchain root (program %d)", ErrInvalid, ifname, x.ProgId)
	}
	ad := &Adopted{Name: ao.Name, ID: x.ProgId, KernelName: info.Name, Mode: mode}
	var ps []Program
	var comps []libxdpComponent
	if info.Name == libxdpDispatcherName {
		if err := probeFreplace(); err != nil {
			return nil, nil, fmt.Errorf("%q runs a libxdp dispatcher (program %d): its components are extension (freplace) programs, which xdpchain can run only as extensions of its own root, and this kernel refuses that: %w; load the components from their objects into xdpchain instead", ifname, x.ProgId, err)
		}
		var cfg *dispatcherConfig
		comps, cfg, err = libxdpComponents(prog)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %q runs a libxdp dispatcher (program %d) whose components cannot be read: %w", ErrInvalid, ifname, x.ProgId, err)
		}
		defer func() {
			for _, c := range comps {
				c.prog.Close()
			}
		}()
		if ao.Name != "" {
			return nil, nil, fmt.Errorf("%w: %q runs a libxdp dispatcher (program %d): its components keep their own names, a name cannot be given", ErrInvalid, ifname, x.ProgId)
		}
		if len(comps) == 0 {
			return nil, nil, fmt.Errorf("%w: %q runs a libxdp dispatcher (program %d) without programs: nothing to adopt", ErrInvalid, ifname, x.ProgId)
		}
		if o.Mechanism != AutoMechanism && o.Mechanism != Freplace {
			return nil, nil, errExtensionMechanism(comps[0].kernelName, o.Mechanism)
		}
		if ps, err = componentPrograms(comps, ao.Owner, cfg.frags); err != nil {
			return nil, nil, err
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		// Several programs: their names, in chain order.
		ad.Name = strings.Join(names, ",")
	} else {
		if ad.Name == "" {
			ad.Name = strings.ReplaceAll(info.Name, ".", "_")
			if ad.Name == "" {
				ad.Name = "adopted"
			}
		}
		p, err := NewProgram(ad.Name, callObject(), callProgramName)
		if err != nil {
			return nil, nil, err
		}
		p.Owner = ao.Owner
		ps = []Program{p}
	}
	for i := range ps {
		if err := (&ps[i]).validate(); err != nil {
			return nil, nil, &ProgramError{Program: ps[i].Name, Err: err}
		}
	}

	r.pins = newPinDir(o, ns.inode, r.ifindex)
	if _, err := r.pins.secure(o, true); err != nil {
		return nil, nil, err
	}
	lock, err := lockDir(r.pins.bpf, true)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Unlock()
	if err := r.read(true); err == nil {
		return nil, nil, fmt.Errorf("%w: %q already has an xdpchain root", ErrInvalid, ifname)
	} else if !errors.Is(err, ErrNotAttached) {
		return nil, nil, err
	}
	mech, reason := ResolveMechanism(o.Mechanism, AutoMechanism)
	if comps != nil {
		mech = Freplace
		if o.Mechanism == AutoMechanism {
			reason = reasonAdoptedExtension
		}
	}
	if _, err := newMechanism(mech); err != nil {
		return nil, nil, err
	}
	if mech == Freplace && o.Mechanism == Freplace {
		if err := probeFreplace(); err != nil {
			return nil, nil, err
		}
	}
	attached := false
	defer func() {
		if err == nil {
			return
		}
		if attached {
			err = errors.Join(err, r.giveBack(prog, mode))
		}
		r.pins.removeAll()
	}()

	// First, as create does: whoever finds the pins of a half-made root
	// knows whose it is.
	if err := r.pins.markOwner(); err != nil {
		return nil, nil, err
	}
	// Everything the chain needs, before the hand-over.
	var st *state
	if comps != nil {
		st, err = r.adoptComponentsState(ps, comps, prog, mode, mech, reason)
	} else {
		st, err = r.adoptState(ps[0], prog, mode, mech, reason)
	}
	if err != nil {
		return nil, nil, err
	}
	r.stats, err = newStatsMap(minCounterRows)
	if err != nil {
		return nil, nil, err
	}
	if err := r.stats.Pin(r.pins.stats()); err != nil {
		return nil, nil, fmt.Errorf("pinning counters: %w", err)
	}

	// The hand-over: the program leaves netlink (only if it is still the
	// one attached) and comes back under a link, at once (the library's
	// probe for links ran before).
	warmLinkProbe(prog)
	err = r.ns.do(func() error {
		if err := setXDPNetlink(r.ifindex, nil, prog, mode); err != nil {
			return fmt.Errorf("%w: detaching program %d of %q from netlink: %w", ErrForeignProgram, x.ProgId, ifname, err)
		}
		attached = true
		r.link, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: r.ifindex, Flags: linkFlags(mode)})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := r.link.Pin(r.pins.link()); err != nil {
		return nil, nil, fmt.Errorf("pinning root link: %w", err)
	}
	if err := writeState(r.pins.stateFile(), st); err != nil {
		return nil, nil, fmt.Errorf("writing state: %w", err)
	}
	r.st = st

	// The chain's first generation replaces the program under the link
	// (compare-and-swap against it). The committed state already lists
	// the program, so the plan starts from an empty one to build it.
	s, err := r.Spec()
	if err != nil {
		return nil, nil, err
	}
	c, err := planChange(newState(st.rootIdentity, st.Mechanism, st.Reason, st.Fallthrough), s, nil)
	if err != nil {
		return nil, nil, err
	}
	// Rows the committed state does not name: it becomes the retired
	// generation, whose rows (never written: the program ran alone) are
	// read beside the chain's; sharing one would count it twice.
	c.counters = assignCounters(c.chain, st.Programs)
	if _, err := r.execute(c); err != nil {
		return nil, nil, err
	}
	return r, ad, nil
}

// adoptState creates the call slot's PROG_ARRAY holding prog, pinned where
// the slot's maps go, stores the call object, and returns the state of a
// root whose running program is prog and whose chain is p.
func (r *Root) adoptState(p Program, prog *ebpf.Program, mode Mode, mech Mechanism, reason string) (*state, error) {
	cs, _, err := objectSpec(p.Object, callProgramName)
	if err != nil {
		return nil, err
	}
	ms := cs.Maps[callTargetMap].Copy()
	ms.Pinning = ebpf.PinNone
	m, err := ebpf.NewMap(ms)
	if err != nil {
		return nil, fmt.Errorf("creating the call slot's program array: %w", err)
	}
	defer m.Close()
	if err := m.Put(uint32(0), prog); err != nil {
		return nil, &ProgramError{Program: p.Name, Err: fmt.Errorf("%w: the kernel refuses program %s in a program array (%w); a device-bound or offloaded program cannot be adopted", ErrLoad, prog, err)}
	}
	dir := r.pins.progMaps(p.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := m.Pin(filepath.Join(dir, pinName(callTargetMap))); err != nil {
		return nil, fmt.Errorf("pinning the call slot's program array: %w", err)
	}
	hash, err := r.pins.storeObject(p.Object)
	if err != nil {
		return nil, err
	}
	id, err := programID(prog)
	if err != nil {
		return nil, err
	}
	q := p
	q.Object = nil
	q.ProgramName = callProgramName
	st := newState(r.identity(mode), mech, reason, Pass)
	st.DispatcherID = id
	st.Programs = []programState{{programRecord: recordOf(q), Object: hash, Counter: 1}}
	return st, nil
}

// adoptComponentsState pins each libxdp component (comps, in the order
// of ps) where its program's maps go, stores the call object, and returns
// the state of a root whose running program is the dispatcher disp and
// whose chain is ps.
func (r *Root) adoptComponentsState(ps []Program, comps []libxdpComponent, disp *ebpf.Program, mode Mode, mech Mechanism, reason string) (*state, error) {
	id, err := programID(disp)
	if err != nil {
		return nil, err
	}
	hash, err := r.pins.storeObject(ps[0].Object)
	if err != nil {
		return nil, err
	}
	st := newState(r.identity(mode), mech, reason, Pass)
	st.DispatcherID = id
	for i, p := range ps {
		if err := os.MkdirAll(r.pins.progMaps(p.Name), 0o700); err != nil {
			return nil, err
		}
		if err := comps[i].prog.Pin(r.pins.extensionPin(p.Name)); err != nil {
			return nil, &ProgramError{Program: p.Name, Err: fmt.Errorf("pinning its extension program %s: %w", comps[i].prog, err)}
		}
		q := p
		q.Object = nil
		q.ProgramName = callProgramName
		st.Programs = append(st.Programs, programState{programRecord: recordOf(q), Object: hash, Counter: uint32(i + 1)})
	}
	return st, nil
}

// giveBack undoes a hand-over that failed after the program left netlink:
// the link (if any) goes and the program is attached by netlink again.
func (r *Root) giveBack(prog *ebpf.Program, mode Mode) error {
	if r.link != nil {
		if rl, ok := r.link.(interface{ Detach() error }); ok {
			rl.Detach()
		}
		r.link.Unpin()
		r.link.Close()
		r.link = nil
	}
	err := r.ns.do(func() error { return setXDPNetlink(r.ifindex, prog, nil, mode) })
	if err != nil {
		return fmt.Errorf("attaching program %s to %q by netlink again: %w", prog, r.ifname, err)
	}
	return nil
}

// Leave ends xdpchain on the interface, leaving the program name of its
// chain attached by netlink on its own, in the root's mode, with its maps
// (an adopted program: the kernel program it was). The root, every pin and
// the state go. It returns the kernel ID of the program left attached.
//
// The program is loaded (or, adopted, opened) first; the hand-over (link
// detach, netlink attach) is two syscalls back to back. On failure the
// chain keeps running.
func (r *Root) Leave(name string) (_ uint32, err error) {
	lock, err := lockDir(r.pins.bpf, false)
	if err != nil {
		return 0, err
	}
	defer lock.Unlock()
	if err := r.reload(); err != nil {
		return 0, err
	}
	var ps *programState
	for i := range r.st.Programs {
		if r.st.Programs[i].Name == name {
			ps = &r.st.Programs[i]
		}
	}
	if ps == nil {
		return 0, fmt.Errorf("%w: %q on %q", ErrNotFound, name, r.ifname)
	}
	prog, err := r.alone(ps)
	if err != nil {
		return 0, err
	}
	defer prog.Close()
	id, err := programID(prog)
	if err != nil {
		return 0, err
	}
	running, err := ebpf.NewProgramFromID(ebpf.ProgramID(r.st.DispatcherID))
	if err != nil {
		return 0, fmt.Errorf("%w: opening running dispatcher %d: %w", ErrConcurrentUpdate, r.st.DispatcherID, err)
	}
	defer running.Close()
	rl, ok := r.link.(interface{ Detach() error })
	if !ok {
		return 0, fmt.Errorf("root link %T cannot be detached", r.link)
	}
	warmLinkProbe(prog)
	err = r.ns.do(func() error {
		if err := rl.Detach(); err != nil {
			return fmt.Errorf("detaching root of %q: %w", r.ifname, err)
		}
		if err := setXDPNetlink(r.ifindex, prog, nil, r.st.Mode); err != nil {
			// Put the chain back under a new link.
			l, lerr := link.AttachXDP(link.XDPOptions{Program: running, Interface: r.ifindex, Flags: linkFlags(r.st.Mode)})
			if lerr != nil {
				return fmt.Errorf("attaching %s by netlink: %w; reattaching the chain: %v (the interface runs no XDP program)", name, err, lerr)
			}
			r.link.Unpin()
			r.link.Close()
			r.link = l
			if perr := replacePin(r.pins.link(), l.Pin); perr != nil {
				return fmt.Errorf("attaching %s by netlink: %w; the chain runs again, but pinning its new link: %v", name, err, perr)
			}
			return fmt.Errorf("attaching %s by netlink: %w (the chain runs again)", name, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	r.link.Unpin()
	r.link.Close()
	r.link = nil
	if err := r.detachLocked(); err != nil {
		return id, err
	}
	r.pins.removeEmptyDirs()
	lock.Unlock()
	pruneStale(r.opts, r.pins, true)
	return id, nil
}

// alone returns a committed program as a kernel program on its own: the
// adopted program of a call slot, else the program loaded from its object
// with its pinned maps.
func (r *Root) alone(ps *programState) (*ebpf.Program, error) {
	if isCallSlot(ps) {
		if ext, err := adoptedExtension(r.pins, ps.Name); ext != nil || err != nil {
			if ext != nil {
				ext.Close()
			}
			return nil, errors.Join(err, &ProgramError{Program: ps.Name, Err: fmt.Errorf("%w: it is an adopted libxdp component, an extension (freplace) program, which cannot run alone attached by netlink", ErrInvalid)})
		}
		return adoptedProgram(r.pins, ps.Name)
	}
	obj, err := r.pins.loadObject(ps.Object)
	if err != nil {
		return nil, &ProgramError{Program: ps.Name, Err: err}
	}
	p := ps.program()
	p.Object = obj
	g := &generation{pins: r.pins, replacePins: map[string]*ebpf.Map{}, readOnly: map[string]*ebpf.Map{}}
	sl, err := r.prepareSlot(g, p, *ps, true, false)
	if err != nil {
		return nil, err
	}
	defer sl.close()
	return loadProgram(ps.Name, sl.alone, r.opts.VerifierLogs)
}

// adoptedProgram opens the program in the call slot of program name.
func adoptedProgram(pd pinDir, name string) (*ebpf.Program, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pd.progMaps(name), pinName(callTargetMap)), nil)
	if err != nil {
		return nil, &ProgramError{Program: name, Err: fmt.Errorf("opening its program array: %w", err)}
	}
	defer m.Close()
	var id uint32
	if err := m.Lookup(uint32(0), &id); err != nil {
		return nil, &ProgramError{Program: name, Err: fmt.Errorf("its program array is empty: %w", err)}
	}
	return ebpf.NewProgramFromID(ebpf.ProgramID(id))
}

// warmLinkProbe has cilium/ebpf run (and cache) its probe for bpf_link
// support, which it runs before the first link it creates, so that no
// hand-over waits for it: the attach fails on the invalid target after the
// probe.
func warmLinkProbe(prog *ebpf.Program) {
	link.AttachRawLink(link.RawLinkOptions{Program: prog, Attach: ebpf.AttachXDP, Target: -1})
}

// linkFlags are the bpf_link attach flags of mode.
func linkFlags(mode Mode) link.XDPAttachFlags {
	if mode == ModeSKB {
		return link.XDPGenericMode
	}
	return link.XDPDriverMode
}

// setXDPNetlink attaches prog (nil: detaches) to ifindex by netlink in
// mode, in the calling thread's network namespace. With expected, only if
// expected is the program attached now (XDP_FLAGS_REPLACE); without, only
// if none is (XDP_FLAGS_UPDATE_IF_NOEXIST).
func setXDPNetlink(ifindex int, prog, expected *ebpf.Program, mode Mode) error {
	flags := uint32(unix.XDP_FLAGS_DRV_MODE)
	if mode == ModeSKB {
		flags = unix.XDP_FLAGS_SKB_MODE
	}
	fd := int32(-1)
	if prog != nil {
		fd = int32(prog.FD())
	}
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(ifindex)
	req.AddData(msg)
	attrs := nl.NewRtAttr(unix.IFLA_XDP|unix.NLA_F_NESTED, nil)
	attrs.AddRtAttr(unix.IFLA_XDP_FD, nl.Uint32Attr(uint32(fd)))
	if expected != nil {
		flags |= unix.XDP_FLAGS_REPLACE
		attrs.AddRtAttr(unix.IFLA_XDP_EXPECTED_FD, nl.Uint32Attr(uint32(expected.FD())))
	} else {
		flags |= unix.XDP_FLAGS_UPDATE_IF_NOEXIST
	}
	attrs.AddRtAttr(unix.IFLA_XDP_FLAGS, nl.Uint32Attr(flags))
	req.AddData(attrs)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
