package dispatcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

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
	Fallthrough        string          `json:"fallthrough"`
	FallthroughPackets uint64          `json:"fallthrough_packets"`
	Programs           []ProgramStatus `json:"programs"`
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
	return statusFromPins(r.pins)
}

// statusFromPins builds a status from an interface's pins and state alone:
// no network namespace needs entering.
func statusFromPins(pd pinDir) (*InterfaceStatus, error) {
	st, err := readState(pd.stateFile())
	if err != nil {
		return nil, err
	}
	l, err := link.LoadPinnedLink(pd.link(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotAttached, st.Interface, err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return nil, fmt.Errorf("root link info: %w", err)
	}
	if x := info.XDP(); x == nil || x.Ifindex == 0 {
		return nil, fmt.Errorf("%w: %s", errStaleRoot, st.Interface)
	}
	stats, err := ebpf.LoadPinnedMap(pd.stats(), nil)
	if err != nil {
		return nil, fmt.Errorf("opening counters: %w", err)
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
// entries (roots whose interface went away) are skipped.
func List(opts *Options) ([]InterfaceStatus, error) {
	o := opts.withDefaults()
	base := filepath.Join(o.BPFFS, "xdpchain")
	nsDirs, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return []InterfaceStatus{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []InterfaceStatus{}
	for _, nsd := range nsDirs {
		ifDirs, _ := os.ReadDir(filepath.Join(base, nsd.Name()))
		for _, ifd := range ifDirs {
			var ino uint64
			var idx int
			if _, err := fmt.Sscan(nsd.Name(), &ino); err != nil {
				continue
			}
			if _, err := fmt.Sscan(ifd.Name(), &idx); err != nil {
				continue
			}
			pd := newPinDir(o, ino, idx)
			s, err := statusFromPins(pd)
			if errors.Is(err, errStaleRoot) {
				cleanStale(pd)
			}
			if err != nil {
				continue
			}
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NetNSInode != out[j].NetNSInode {
			return out[i].NetNSInode < out[j].NetNSInode
		}
		return out[i].Ifindex < out[j].Ifindex
	})
	return out, nil
}

// errStaleRoot: the root's link is defunct, its interface (or network
// namespace) gone.
var errStaleRoot = fmt.Errorf("%w: stale root (interface gone)", ErrNotAttached)

// cleanStale removes the pins and state of a defunct root, under its lock,
// after checking again. The kernel already detached it; nothing that serves
// traffic changes.
func cleanStale(pd pinDir) {
	lock, err := lockDir(pd.bpf)
	if err != nil {
		return
	}
	if _, err := statusFromPins(pd); !errors.Is(err, errStaleRoot) {
		lock.Unlock()
		return
	}
	pd.removeAll()
	lock.Unlock()
	pd.removeEmptyDirs()
}
