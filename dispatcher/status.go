package dispatcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// InterfaceStatus describes one interface's root and chain. Its JSON form
// is what `xdpchain status --json` prints.
type InterfaceStatus struct {
	Name               string          `json:"name"`
	Ifindex            int             `json:"ifindex"`
	NetNS              string          `json:"netns,omitempty"`
	NetNSInode         uint64          `json:"netns_inode"`
	Mode               Mode            `json:"mode"`
	Mechanism          MechanismKind   `json:"mechanism"`
	MechanismReason    string          `json:"mechanism_reason,omitempty"`
	LinkID             uint32          `json:"link_id"`
	DispatcherID       uint32          `json:"dispatcher_id"`
	Generation         uint64          `json:"generation"`
	Revision           uint64          `json:"revision"` // the chain's revision (Spec.Revision): its generation
	Fallthrough        string          `json:"fallthrough"`
	FallthroughPackets uint64          `json:"fallthrough_packets"`
	Programs           []ProgramStatus `json:"programs"`
	// Damaged says why the root, attached, cannot be read (state.json
	// missing or unreadable, counters missing); then only Ifindex,
	// NetNSInode, LinkID and DispatcherID (and Name and NetNS when the
	// state says them) are set. `xdpchain detach` removes it.
	Damaged string `json:"damaged,omitempty"`
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
	// Placement is how the program runs: "inline" (written into the
	// root), "call" (a subprogram of the root) or "freplace"; CallReason
	// says why a chain of the inline mechanism calls it.
	Placement  string `json:"placement,omitempty"`
	CallReason string `json:"call_reason,omitempty"`
	Owner      string `json:"owner,omitempty"`
	Version    string `json:"version,omitempty"`
	Object     string `json:"object_sha256"`
	Stats      Stats  `json:"stats"`
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
		return nil, fmt.Errorf("%w: %s: %v", ErrNotAttached, name(), err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return nil, fmt.Errorf("root link info: %w", err)
	}
	if x := info.XDP(); x == nil || x.Ifindex == 0 {
		return nil, fmt.Errorf("%w: %s", errStaleRoot, name())
	}
	// damaged reports a root that is attached but unreadable: the status
	// says what is known, and the error why.
	damaged := func(what string, err error) (*InterfaceStatus, error) {
		s := &InterfaceStatus{Ifindex: int(info.XDP().Ifindex), LinkID: uint32(info.ID), DispatcherID: uint32(info.Program), Programs: []ProgramStatus{}}
		s.NetNSInode, _ = strconv.ParseUint(filepath.Base(filepath.Dir(pd.bpf)), 10, 64)
		if st, serr := readState(pd.stateFile()); serr == nil {
			s.Name, s.NetNS = st.Interface, st.NetNS
		}
		s.Damaged = fmt.Sprintf("%s: %v; `xdpchain detach` removes it", what, err)
		return s, fmt.Errorf("%w: the root on ifindex %d is attached but its %s: %w", ErrDamaged, s.Ifindex, what, err)
	}
	// The chain the kernel runs, also when a process died between the swap
	// and the commit (as Open reads it).
	st, _, err := pd.committedState(uint32(info.Program))
	if errors.Is(err, ErrNewerState) {
		return nil, err // not damaged: a newer release's
	}
	if err != nil {
		return damaged("state is unreadable", err)
	}
	stats, err := ebpf.LoadPinnedMap(pd.stats(), nil)
	if err != nil {
		return damaged("counters are unreadable", err)
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
		Revision:        st.Generation,
		Fallthrough:     st.Fallthrough.String(),
		Programs:        []ProgramStatus{},
	}
	rows, err := counterRows(stats)
	if err != nil {
		return nil, err
	}
	out.FallthroughPackets = rowStats(rows, 0).Total()
	for i, ps := range st.Programs {
		s := rowStats(rows, ps.Counter).minus(ps.Base)
		p := ProgramStatus{
			Slot:       i,
			Name:       ps.Name,
			Priority:   ps.Priority,
			ProceedOn:  ps.ProceedOn.Strings(),
			Shadow:     ps.Shadow,
			Program:    ps.ProgramName,
			ProgramID:  ps.ProgramID,
			Placement:  ps.Placement,
			CallReason: ps.CallReason,
			Owner:      ps.Owner,
			Version:    ps.Version,
			Object:     ps.Object,
			Stats:      s,
		}
		if ps.Allowed != 0 {
			p.Allowed = ps.Allowed.Strings()
		}
		out.Programs = append(out.Programs, p)
	}
	return out, nil
}

// List reports every interface with an xdpchain root under the bpffs of
// opts, in every network namespace, sorted by namespace and ifindex. Stale
// entries (roots whose interface went away) are skipped, damaged ones
// (attached, but their state unreadable) listed with Damaged; List changes
// nothing (the next Attach or Detach removes them). A pin or state
// directory that is not safe to use (see ErrUnsafeDir) is an error.
func List(opts *Options) ([]InterfaceStatus, error) {
	o := opts.withDefaults()
	if err := requirePrivileges(); err != nil {
		return nil, err
	}
	out := []InterfaceStatus{}
	err := eachPinDir(o, func(pd pinDir) error {
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
func pruneStale(o Options, keep pinDir) {
	eachPinDir(o, func(pd pinDir) error {
		if pd.bpf == keep.bpf {
			return nil
		}
		if _, err := pd.secure(o, false); err != nil {
			return nil
		}
		if _, err := statusFromPins(pd); !errors.Is(err, errStaleRoot) {
			return nil
		}
		lock, err := tryLockDir(pd.bpf)
		if err != nil || lock == nil {
			return nil
		}
		if _, err := statusFromPins(pd); errors.Is(err, errStaleRoot) {
			pd.removeAll()
			lock.Unlock()
			pd.removeEmptyDirs()
			return nil
		}
		lock.Unlock()
		return nil
	})
}
