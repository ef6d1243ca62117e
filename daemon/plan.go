package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// InterfacePlan is what applying a config would do to one interface.
type InterfacePlan struct {
	Interface string `json:"interface"`
	// Attach is set when the interface has no root yet: applying the
	// config attaches one.
	Attach bool `json:"attach,omitempty"`
	// Leaves is set for an interface that is not in the config but holds
	// the daemon's programs from an earlier config: they are removed.
	Leaves bool `json:"leaves,omitempty"`
	// Revision is the chain's revision now.
	Revision uint64 `json:"revision"`
	// Changes are the chain's changes, in the new chain's order, then the
	// removed programs; Settings the interface's (fall-through, mechanism).
	Changes  []Change `json:"changes"`
	Settings []string `json:"settings,omitempty"`
	// Unchanged counts the programs that stay as they are.
	Unchanged int `json:"unchanged"`
	// Error says why the config would be refused on this interface.
	Error string `json:"error,omitempty"`
	// Notes say what the plan could not know (a plugin that has never run).
	Notes []string `json:"notes,omitempty"`
	// PluginSettings are the plugins' settings that change on this
	// interface (see PlanSettings).
	PluginSettings []SettingChange `json:"plugin_settings,omitempty"`
}

// SettingChange is one plugin setting that a config changes on one
// interface; Old and New as RedactSettings shows them (JSON; "" for a key
// added or removed; a digest for a secret).
type SettingChange struct {
	Plugin string `json:"plugin"`
	Key    string `json:"key"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
}

// Changed reports whether the plan changes anything.
func (p *InterfacePlan) Changed() bool {
	return p.Attach || len(p.Changes) > 0 || len(p.Settings) > 0 || len(p.PluginSettings) > 0
}

// PlanSettings adds to plans the plugin settings cfg changes, per plugin
// and interface, against the settings in force that a running daemon
// reports (st, a root caller's status); secret values are compared by
// their salted digests and never shown. Without a daemon (st nil) the
// settings in force are not known: each interface with plugins gets a
// note saying so. A plugin whose process does not run there is noted too.
func PlanSettings(plans []InterfacePlan, cfg *config.Config, st *api.Status) {
	for i := range plans {
		ip := &plans[i]
		for j := range cfg.Plugins {
			p := &cfg.Plugins[j]
			if ip.Leaves || !contains(p.Interfaces, ip.Interface) {
				continue
			}
			var ps *api.PluginStatus
			if st != nil {
				for k := range st.Plugins {
					if st.Plugins[k].Name == p.Name && st.Plugins[k].Interface == ip.Interface {
						ps = &st.Plugins[k]
					}
				}
			}
			switch {
			case st == nil:
				ip.Notes = append(ip.Notes, fmt.Sprintf("plugin %s: its settings in force are known only to a running daemon (none answered): setting changes are not shown", p.Name))
				continue
			case ps == nil || ps.Settings == nil:
				ip.Notes = append(ip.Notes, fmt.Sprintf("plugin %s: no process runs here: setting changes are not shown", p.Name))
				continue
			}
			next := RedactSettings(p.Settings, ps.SecretSettings, st.SettingsSalt)
			keys := slices.Sorted(maps.Keys(next))
			for k := range ps.Settings {
				if _, ok := next[k]; !ok {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				old, now := settingText(ps.Settings, k), settingText(next, k)
				if old != now {
					ip.PluginSettings = append(ip.PluginSettings, SettingChange{Plugin: p.Name, Key: k, Old: old, New: now})
				}
			}
		}
	}
}

// settingText is a setting's value as JSON, "" when absent.
func settingText(settings map[string]any, key string) string {
	v, ok := settings[key]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok && strings.HasPrefix(s, "(secret ") {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Change kinds.
const (
	ChangeAdded    = "added"
	ChangeRemoved  = "removed"
	ChangeReplaced = "replaced" // a new object or program in it
	ChangeMoved    = "moved"    // another position in the chain
	ChangeSettings = "changed"  // priority, proceed-on, allowed, shadow, owner or version
)

// Change is one program's change.
type Change struct {
	Program string `json:"program"`
	Owner   string `json:"owner,omitempty"`
	Kind    string `json:"change"`
	// Detail says what changed ("priority 10 -> 20", "slot 2 -> 0").
	Detail string `json:"detail,omitempty"`
}

// Plan computes what applying cfg would change on each interface, with the
// planner a reconcile uses (the daemon's programs merged with everyone
// else's, placements resolved), and changes nothing: no root is attached,
// no pin written, no plugin started. A plugin's program is known from the
// chain where it already runs; elsewhere the plan says it is added, and
// notes that its object is not known until the plugin runs.
func Plan(cfg *config.Config) ([]InterfacePlan, error) {
	cfgProgs := make(map[string]dispatcher.Chain)
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		prog, err := configProgram(p)
		if err != nil {
			return nil, err
		}
		for _, ref := range p.Interfaces {
			cfgProgs[ref] = append(cfgProgs[ref], prog)
		}
	}
	var out []InterfacePlan
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		out = append(out, planInterface(cfg, itf, cfgProgs[itf.Ref()]))
	}
	// Interfaces that left the config lose the daemon's programs.
	list, err := dispatcher.List(&dispatcher.Options{BPFFS: cfg.Daemon.BPFFS, StateDir: cfg.Daemon.StateDir})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, s := range list {
		ref := chain.NewInterface(s.NetNS, s.Name).String()
		if s.Damaged != "" || cfg.Interface(ref) != nil {
			continue
		}
		ip := InterfacePlan{Interface: ref, Leaves: true, Revision: s.Revision}
		for _, p := range s.Programs {
			if daemonOwned(p.Owner) {
				ip.Changes = append(ip.Changes, Change{Program: p.Name, Owner: p.Owner, Kind: ChangeRemoved})
			}
		}
		if len(ip.Changes) > 0 {
			out = append(out, ip)
		}
	}
	return out, nil
}

// planInterface plans one interface of the config.
func planInterface(cfg *config.Config, itf *config.Interface, progs dispatcher.Chain) InterfacePlan {
	ip := InterfacePlan{Interface: itf.Ref(), Changes: []Change{}}
	cur := dispatcher.Spec{Fallthrough: dispatcher.Pass, Programs: dispatcher.Chain{}}
	r, err := dispatcher.Open(itf.Name, cfg.Options(itf))
	switch {
	case errors.Is(err, dispatcher.ErrNotAttached):
		ip.Attach = true
	case err != nil:
		ip.Error = err.Error()
		return ip
	default:
		cur, err = r.Spec()
		r.Close()
		if err != nil {
			ip.Error = err.Error()
			return ip
		}
		ip.Revision = cur.Revision
	}

	// The plugins' entries: as they run in this chain, with the config's
	// overrides; a plugin not there yet is added with what it will
	// describe.
	instances := map[instKey]*instance{}
	var pending []string
	for j := range cfg.Plugins {
		p := &cfg.Plugins[j]
		if !contains(p.Interfaces, itf.Ref()) {
			continue
		}
		in := &instance{key: instKey{p.Name, itf.Ref()}, cfg: *p, state: api.StateRunning}
		if k := cur.Programs.Index(p.Name); k >= 0 && daemonOwned(cur.Programs[k].Owner) {
			in.base = cur.Programs[k]
		} else {
			pending = append(pending, p.Name)
			ip.Notes = append(ip.Notes, fmt.Sprintf("plugin %s: its program is known once it runs; its place is planned with its configured priority", p.Name))
			in.base = dispatcher.Program{Name: p.Name, Priority: dispatcher.DefaultPriority, ProceedOn: dispatcher.DefaultProceedOn, Object: []byte{}}
		}
		instances[in.key] = in
	}
	plan, err := buildPlan(cfg, itf, progs, instances)
	if err != nil {
		ip.Error = err.Error()
		return ip
	}
	next, _, err := merge(cur, plan)
	if err != nil {
		ip.Error = err.Error()
		return ip
	}
	if next.Fallthrough != cur.Fallthrough {
		ip.Settings = append(ip.Settings, fmt.Sprintf("fall-through %s -> %s", cur.Fallthrough, next.Fallthrough))
	}
	if next.Mechanism != cur.Mechanism && next.Mechanism != dispatcher.AutoMechanism && !(ip.Attach && next.Mechanism == itf.Mechanism) {
		ip.Settings = append(ip.Settings, fmt.Sprintf("mechanism %s -> %s", cur.Mechanism, next.Mechanism))
	}
	ip.Changes, ip.Unchanged = diffChains(cur.Programs, next.Programs, pending)
	return ip
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}

// diffChains lists what turns chain a into chain b, in b's order, then
// what b lacks; the objects of fresh names (plugins whose program is not
// known yet) are not compared. It returns the changes and how many
// programs stay as they are.
func diffChains(a, b dispatcher.Chain, fresh []string) ([]Change, int) {
	a, b = a.Sorted(), b.Sorted()
	// A move is a change of order among the programs in both chains, not
	// of slot number (which an addition before a program changes too).
	rank := func(c, other dispatcher.Chain) map[string]int {
		r := map[string]int{}
		for _, p := range c {
			if other.Index(p.Name) >= 0 {
				r[p.Name] = len(r)
			}
		}
		return r
	}
	ra, rb := rank(a, b), rank(b, a)
	changes := []Change{}
	unchanged := 0
	for j, p := range b {
		i := a.Index(p.Name)
		if i < 0 {
			changes = append(changes, Change{Program: p.Name, Owner: p.Owner, Kind: ChangeAdded, Detail: fmt.Sprintf("slot %d, priority %d", j, p.Priority)})
			continue
		}
		o := a[i]
		switch {
		case !contains(fresh, p.Name) && (!bytes.Equal(o.Object, p.Object) || (p.ProgramName != "" && o.ProgramName != p.ProgramName)):
			changes = append(changes, Change{Program: p.Name, Owner: p.Owner, Kind: ChangeReplaced, Detail: "a new object"})
		case settingsOf(o) != settingsOf(p):
			changes = append(changes, Change{Program: p.Name, Owner: p.Owner, Kind: ChangeSettings, Detail: settingsOf(o) + " -> " + settingsOf(p)})
		case ra[p.Name] != rb[p.Name]:
			detail := fmt.Sprintf("slot %d -> %d", i, j)
			if i == j {
				detail = fmt.Sprintf("slot %d, between other programs", j)
			}
			changes = append(changes, Change{Program: p.Name, Owner: p.Owner, Kind: ChangeMoved, Detail: detail})
		default:
			unchanged++
		}
	}
	for _, o := range a {
		if b.Index(o.Name) < 0 {
			changes = append(changes, Change{Program: o.Name, Owner: o.Owner, Kind: ChangeRemoved})
		}
	}
	return changes, unchanged
}

// settingsOf prints what of a chain entry a config sets besides its object.
func settingsOf(p dispatcher.Program) string {
	s := fmt.Sprintf("priority %d, proceed-on %s", p.Priority, p.ProceedOn)
	if p.Allowed != 0 {
		s += ", allowed " + p.Allowed.String()
	}
	if p.Shadow {
		s += ", shadow"
	}
	return s
}
