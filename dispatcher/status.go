package dispatcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// InterfaceStatus describes one interface's root and chain. Its JSON form
// is what `xdpchain status --json` prints.
type InterfaceStatus struct {
	Name       string `json:"name"`
	Ifindex    int    `json:"ifindex"`
	NetNS      string `json:"netns,omitempty"`
	NetNSInode uint64 `json:"netns_inode"`
	Mode       Mode   `json:"mode"`
	// DeviceBound: the chain is bound to the interface because a program
	// of it is (reads XDP hints, devbound.go): its root was loaded with
	// BPF_F_XDP_DEV_BOUND_ONLY, runs only there, in native mode, and
	// cannot be run by BPF_PROG_TEST_RUN.
	DeviceBound     bool      `json:"device_bound,omitempty"`
	Mechanism       Mechanism `json:"mechanism"`
	MechanismReason string    `json:"mechanism_reason,omitempty"`
	LinkID          uint32    `json:"link_id"`
	DispatcherID    uint32    `json:"dispatcher_id"`
	// Generation counts the dispatcher generations swapped in since the
	// root was attached: every change of the chain, and every build for
	// observers. Revision counts the chain's changes only (Spec.Revision:
	// what a compare-and-swap expects); a generation built only for
	// observers keeps it.
	Generation         uint64          `json:"generation"`
	Revision           uint64          `json:"revision"`
	Fallthrough        string          `json:"fallthrough"`
	FallthroughPackets uint64          `json:"fallthrough_packets"`
	Programs           []ProgramStatus `json:"programs"`
	// Damaged says why the root, attached and this instance's, cannot be
	// read (state.json missing or unreadable, counters missing); then only
	// Ifindex, NetNSInode, LinkID and DispatcherID (and Name and NetNS when
	// they can be known) are set. DetachInterface removes it.
	Damaged string `json:"damaged,omitempty"`
	// Foreign is the instance that manages the root when it is another
	// xdpchain instance sharing the bpffs (see instance.go); then only
	// Ifindex, NetNSInode, LinkID and DispatcherID (and Name and NetNS when
	// they can be known) are set. It is that instance's to change.
	Foreign *Instance `json:"foreign,omitempty"`
}

// ProgramStatus describes one program of a chain.
type ProgramStatus struct {
	Slot      int      `json:"slot"`
	Name      string   `json:"name"`
	Priority  int      `json:"priority"`
	ProceedOn []string `json:"proceed_on"`
	Allowed   []string `json:"allowed,omitempty"`
	Shadow    bool     `json:"shadow,omitempty"`
	Program   string   `json:"program"`
	// ProgramID is the program's own kernel ID (freplace only; a linked
	// program is part of the dispatcher).
	ProgramID uint32 `json:"program_id,omitempty"`
	// AloneID is the kernel ID of the program verified alone: its
	// instructions with the same maps the chain uses, loaded on its own
	// before the chain was built and kept loaded while any chain under the
	// bpffs runs it — one kernel program per distinct program, shared by
	// every interface and mechanism that runs it — so that `bpftool prog
	// show id N` and `bpftool prog dump xlated id N` show its code and its
	// maps. It is attached nowhere and never runs: its run_cnt stays 0. The
	// program's run counts live in xdpchain's counters (Stats), its time in
	// `xdpchain profile`. Absent for a chain not changed since a release
	// that kept none.
	AloneID uint32 `json:"alone_id,omitempty"`
	// Placement is how the program runs: "inline" (written into the
	// root), "call" (a subprogram of the root) or "freplace"; CallReason
	// says why a chain of the inline mechanism calls it.
	Placement  string `json:"placement,omitempty"`
	CallReason string `json:"call_reason,omitempty"`
	// XSKMap is the pin of the program's XSKMAP (AF_XDP sockets are put
	// there by RX queue), when it has one: the built-in AF_XDP program's,
	// or an application's own redirect program's.
	XSKMap string `json:"xskmap,omitempty"`
	// DeviceBound: the program reads XDP hints (bpf_xdp_metadata_*
	// kfuncs), so it and its chain are bound to the interface.
	DeviceBound bool `json:"device_bound,omitempty"`
	// AdoptedID is the kernel ID of an adopted program (Adopt): the
	// program the slot tail-calls, which runs as it did before xdpchain,
	// or, for a component of libxdp's dispatcher, the extension program
	// attached to the slot (placement freplace).
	AdoptedID uint32 `json:"adopted_id,omitempty"`
	Owner     string `json:"owner,omitempty"`
	Version   string `json:"version,omitempty"`
	Object    string `json:"object_sha256"`
	Stats     Stats  `json:"stats"`
}

// Status reports the root and its chain with packet counts.
func (r *Root) Status() (*InterfaceStatus, error) {
	s, err := statusFromPins(r.pins)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// statusFromPins builds a status from an interface's pins and state alone:
// no network namespace needs entering.
func statusFromPins(pd pinDir) (*InterfaceStatus, error) {
	// name is for errors: the interface's name when its state says it.
	name := func() string {
		if st, err := readState(pd.stateFile()); err == nil {
			return st.Interface
		}
		return pd.bpf
	}
	l, err := link.LoadPinnedLink(pd.link(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotAttached, name(), err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return nil, fmt.Errorf("root link info: %w", err)
	}
	if x := info.XDP(); x == nil || x.Ifindex == 0 {
		return nil, fmt.Errorf("%w: %s", errStaleRoot, name())
	}
	// unreadable is the status of a root whose state this instance does
	// not have: what is known of it.
	unreadable := func() *InterfaceStatus {
		s := &InterfaceStatus{Ifindex: int(info.XDP().Ifindex), LinkID: uint32(info.ID), DispatcherID: uint32(info.Program), Programs: []ProgramStatus{}}
		s.NetNSInode, _ = strconv.ParseUint(filepath.Base(filepath.Dir(pd.bpf)), 10, 64)
		if st, serr := readState(pd.stateFile()); serr == nil {
			s.Name, s.NetNS = st.Interface, st.NetNS
		} else {
			s.NetNS, s.Name = interfaceName(s.NetNSInode, s.Ifindex)
		}
		return s
	}
	if other := pd.otherInstance(); other != nil {
		s := unreadable()
		s.Foreign = other
		return s, pd.foreignError(s.DisplayName(), other)
	}
	// damaged reports a root that is attached but unreadable: the status
	// says what is known, and the error why.
	damaged := func(what string, err error) (*InterfaceStatus, error) {
		s := unreadable()
		s.Damaged = fmt.Sprintf("%s: %v", what, err)
		return s, &DamagedError{Interface: s.DisplayName(), NetNS: s.NetNS, Reason: what, Err: err}
	}
	// The chain the kernel runs, also when a process died between the swap
	// and the commit (as Open reads it).
	st, _, err := pd.committedState(uint32(info.Program))
	if errors.Is(err, ErrNewerState) {
		return nil, err // not damaged: a newer release's
	}
	if err != nil {
		return damaged("its state is unreadable", err)
	}
	stats, err := ebpf.LoadPinnedMap(pd.counters(st.Counters), nil)
	if err != nil {
		return damaged("its counters are unreadable", err)
	}
	defer stats.Close()

	out := &InterfaceStatus{
		Name:            st.Interface,
		Ifindex:         st.Ifindex,
		NetNS:           st.NetNS,
		NetNSInode:      st.NetNSInode,
		Mode:            st.Mode,
		Mechanism:       st.Mechanism,
		MechanismReason: st.Reason,
		LinkID:          uint32(info.ID),
		DispatcherID:    uint32(info.Program),
		Generation:      st.Generation,
		Revision:        st.revision(),
		Fallthrough:     st.Fallthrough.String(),
		Programs:        []ProgramStatus{},
	}
	rows, err := counterRows(stats)
	if err != nil {
		return nil, err
	}
	retiredRows, err := pd.retiredRows(st, rows)
	if err != nil {
		return damaged("its counters are unreadable", err)
	}
	counts, ft := st.counts(rows, retiredRows)
	out.FallthroughPackets = ft
	for i, ps := range st.Programs {
		s := counts[i]
		p := ProgramStatus{
			Slot:        i,
			Name:        ps.Name,
			Priority:    ps.Priority,
			ProceedOn:   ps.ProceedOn.Strings(),
			Shadow:      ps.Shadow,
			Program:     ps.ProgramName,
			ProgramID:   ps.ProgramID,
			AloneID:     ps.AloneID,
			Placement:   ps.Placement,
			CallReason:  ps.CallReason,
			XSKMap:      pd.xskMapPath(ps.Name, ps.XSKMap),
			Owner:       ps.Owner,
			Version:     ps.Version,
			Object:      ps.Object,
			DeviceBound: ps.DeviceBound,
			Stats:       s,
		}
		if ps.Allowed != 0 {
			p.Allowed = ps.Allowed.Strings()
		}
		if isCallSlot(&ps) {
			if prog, _ := adoptedExtension(pd, ps.Name); prog != nil {
				p.AdoptedID, _ = programID(prog)
				prog.Close()
			} else if prog, err := adoptedProgram(pd, ps.Name); err == nil {
				p.AdoptedID, _ = programID(prog)
				prog.Close()
			}
		}
		out.DeviceBound = out.DeviceBound || p.DeviceBound
		out.Programs = append(out.Programs, p)
	}
	return out, nil
}

// interfaceName finds the interface ifindex of the network namespace with
// inode ino, when that namespace is this process's or one named under
// /run/netns: its namespace as Options.NetNS names it, and its name; ""
// when it cannot be known.
func interfaceName(ino uint64, ifindex int) (netns, name string) {
	specs := []string{""}
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			specs = append(specs, e.Name())
		}
	}
	for _, spec := range specs {
		var st unix.Stat_t
		if unix.Stat(NetNSPath(spec), &st) != nil || st.Ino != ino {
			continue
		}
		ns, err := openNetNS(spec)
		if err != nil {
			return "", ""
		}
		defer ns.Close()
		nl, err := ns.netlink()
		if err != nil {
			return "", ""
		}
		defer nl.Close()
		if l, err := nl.LinkByIndex(ifindex); err == nil {
			return spec, l.Attrs().Name
		}
		return "", ""
	}
	return "", ""
}

// DisplayName is the interface's name, or "ifindex N" when the name cannot
// be known (a damaged or another instance's root in a namespace without a
// name).
func (s *InterfaceStatus) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("ifindex %d", s.Ifindex)
}

// StatusOf reports the root of one interface as List does: a damaged
// root (Damaged) or another instance's (Foreign) is a status too, not an
// error; ErrNotAttached when the interface has no root (or a stale one).
// It changes nothing.
func StatusOf(ifname string, opts *Options) (*InterfaceStatus, error) {
	o := opts.withDefaults()
	if err := requirePrivileges(); err != nil {
		return nil, err
	}
	ns, err := openNetNS(o.NetNS)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	nl, err := ns.netlink()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	l, err := nl.LinkByName(ifname)
	nl.Close()
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	pd := newPinDir(o, ns.inode, l.Attrs().Index)
	exists, err := pd.secure(o, false)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%w %q", ErrNotAttached, ifname)
	}
	s, err := statusFromPins(pd)
	if s == nil {
		return nil, err
	}
	// Named as the caller named it (the state may say another form).
	if s.Name == "" {
		s.Name = ifname
	}
	if s.NetNS == "" && (s.Damaged != "" || s.Foreign != nil) {
		s.NetNS = CanonicalNetNS(o.NetNS)
	}
	return s, nil
}

// List reports every interface with an xdpchain root under the bpffs of
// opts, in every network namespace (only in opts.NetNS when that is set),
// sorted by namespace and ifindex. Stale
// entries (roots whose interface went away) are skipped, damaged ones
// (attached, but their state unreadable) listed with Damaged, other
// instances' with Foreign; List changes
// nothing (the next Attach or Detach removes them). A pin or state
// directory that is not safe to use (see ErrUnsafeDir) is an error.
func List(opts *Options) ([]InterfaceStatus, error) {
	o := opts.withDefaults()
	if err := requirePrivileges(); err != nil {
		return nil, err
	}
	out := []InterfaceStatus{}
	var only uint64 // the namespace's inode, when opts.NetNS limits the list
	if o.NetNS != "" {
		ns, err := openNetNS(o.NetNS)
		if err != nil {
			return nil, err
		}
		only = ns.inode
		ns.Close()
	}
	err := eachPinDir(o, func(pd pinDir) error {
		if only != 0 && filepath.Base(filepath.Dir(pd.bpf)) != strconv.FormatUint(only, 10) {
			return nil
		}
		if _, err := pd.secure(o, false); err != nil {
			return err
		}
		// A damaged root is listed as such; a missing or stale one is not.
		if s, _ := statusFromPins(pd); s != nil {
			out = append(out, *s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NetNSInode != out[j].NetNSInode {
			return out[i].NetNSInode < out[j].NetNSInode
		}
		return out[i].Ifindex < out[j].Ifindex
	})
	return out, nil
}

// eachPinDir calls fn with every interface's pin directory under the bpffs
// of o (entries not named <netns inode>/<ifindex> are skipped), after
// checking the directories they are in.
func eachPinDir(o Options, fn func(pinDir) error) error {
	base := filepath.Join(o.BPFFS, "xdpchain")
	exists, err := secureDir(base, base, false)
	if err != nil || !exists {
		return err
	}
	if _, err := secureDir(o.StateDir, o.StateDir, false); err != nil {
		return err
	}
	nsDirs, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, nsd := range nsDirs {
		ino, err := strconv.ParseUint(nsd.Name(), 10, 64)
		if err != nil {
			continue
		}
		if _, err := secureDir(base, filepath.Join(base, nsd.Name()), false); err != nil {
			return err
		}
		ifDirs, _ := os.ReadDir(filepath.Join(base, nsd.Name()))
		for _, ifd := range ifDirs {
			idx, err := strconv.Atoi(ifd.Name())
			if err != nil || idx <= 0 {
				continue
			}
			if err := fn(newPinDir(o, ino, idx)); err != nil {
				return err
			}
		}
	}
	return nil
}

// errStaleRoot: the root's link is defunct, its interface (or network
// namespace) gone.
var errStaleRoot = fmt.Errorf("%w: stale root (interface gone)", ErrNotAttached)

// pruneStale removes the pins and state of defunct roots under the bpffs of
// o, except keep's (whose lock the caller holds). Each is removed under its
// lock after checking again; one locked by another process is left for
// later. The kernel already detached them: nothing that serves traffic
// changes. Best effort.
//
// It reads one pinned link per root (rootStale), and is called on every
// attach: a process attaching N roots would read N² links. So it runs only
// when this process has created at least as many roots under o's bpffs
// since its last run as that run found (amortized: the attaches of N roots
// read O(N) links in all). Detach passes force.
func pruneStale(o Options, keep pinDir, force bool) {
	base := filepath.Join(o.BPFFS, "xdpchain")
	pruneMu.Lock()
	p := prunes[base]
	p.since++
	due := force || p.since >= p.found
	if due {
		p.since = 0
	}
	prunes[base] = p
	pruneMu.Unlock()
	if !due {
		return
	}
	found := 0
	eachPinDir(o, func(pd pinDir) error {
		found++
		if pd.bpf == keep.bpf {
			return nil
		}
		if _, err := pd.secure(o, false); err != nil {
			return nil
		}
		if !rootStale(pd) {
			return nil
		}
		if pd.otherInstance() != nil {
			return nil // another instance's: it cleans its own
		}
		lock, err := tryLockDir(pd.bpf)
		if err != nil || lock == nil {
			return nil
		}
		if rootStale(pd) {
			pd.removeAll()
			lock.Unlock()
			pd.removeEmptyDirs()
			return nil
		}
		lock.Unlock()
		return nil
	})
	pruneAlone(base) // programs verified alone nobody runs any more
	pruneMu.Lock()
	p = prunes[base]
	p.found = found
	prunes[base] = p
	pruneMu.Unlock()
}

// pruneRuns is how often pruneStale ran under one bpffs: roots created by
// this process since (since), roots found by the last run (found).
type pruneRuns struct{ since, found int }

var (
	pruneMu sync.Mutex
	prunes  = map[string]pruneRuns{}
)

// rootStale reports whether pd's root link is pinned and defunct (its
// interface or network namespace gone), as statusFromPins decides it, but
// reading nothing else.
func rootStale(pd pinDir) bool {
	l, err := link.LoadPinnedLink(pd.link(), nil)
	if err != nil {
		return false
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return false
	}
	x := info.XDP()
	return x == nil || x.Ifindex == 0
}
