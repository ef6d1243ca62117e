package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Status is what the daemon reports: every interface with an xdpchain root
// under its bpffs (the dispatcher's status, whose programs carry their
// owners and versions) and the state of every plugin process.
type Status struct {
	// Config is the config file in force.
	Config     string                       `json:"config"`
	Interfaces []dispatcher.InterfaceStatus `json:"interfaces"`
	Plugins    []PluginStatus               `json:"plugins"`
	// SettingsSalt salts the digests that stand for secret settings (see
	// RedactSettings); random per daemon.
	SettingsSalt string `json:"settings_salt,omitempty"`
}

// PluginStatus is the state of one plugin instance: the process that serves
// one interface.
type PluginStatus struct {
	Name string `json:"name"`
	// Interface is the config's Ref of the interface: NAME or NETNS/NAME.
	Interface string `json:"interface"`
	// State is one of the State* constants.
	State string `json:"state"`
	// PID is the process's ID in the PID namespace whose inode is
	// PIDNamespace: the daemon's (a daemon in a container sees its own
	// numbers); `xdpchain status` translates it into the viewer's.
	PID          int    `json:"pid,omitempty"`
	PIDNamespace uint64 `json:"pid_namespace,omitempty"`
	Version      string `json:"version,omitempty"`
	OnExit       string `json:"on_exit"`
	// Restarts counts consecutive restarts.
	Restarts int `json:"restarts"`
	// Since is when the current (or last) process started.
	Since     time.Time `json:"since,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Health is the last background health check's error, if any.
	Health string `json:"health,omitempty"`
	// Settings are the settings the running process has (reported to root
	// callers only), the values of the keys the plugin marks secret
	// (SecretSettings) redacted (RedactSettings).
	Settings       map[string]any `json:"settings,omitempty"`
	SecretSettings []string       `json:"secret_settings,omitempty"`
}

// Process returns the plugin instance behind a program of an interface's
// status, or nil when the program is not a plugin's (or no longer managed).
func (s *Status) Process(itf *dispatcher.InterfaceStatus, prog *dispatcher.ProgramStatus) *PluginStatus {
	ref := chain.NewInterface(itf.NetNS, itf.Name).String()
	for i := range s.Plugins {
		p := &s.Plugins[i]
		if chain.PluginOwner(p.Name).String() == prog.Owner && p.Interface == ref {
			return p
		}
	}
	return nil
}

// Status reports the chains and the plugin processes. iface and netns, when
// set, limit the interfaces reported.
func (d *Daemon) Status(iface, netns string) (*Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &Status{Config: d.cfg.File, Interfaces: []dispatcher.InterfaceStatus{}, Plugins: []PluginStatus{}, SettingsSalt: d.salt}
	// As client.Local reads them: one interface, one namespace's or all.
	opts := &dispatcher.Options{NetNS: netns, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir}
	if iface != "" {
		s, err := dispatcher.StatusOf(iface, opts)
		if err != nil && !errors.Is(err, dispatcher.ErrNotAttached) {
			return nil, err
		}
		if s != nil {
			out.Interfaces = append(out.Interfaces, *s)
		}
	} else {
		list, err := dispatcher.List(opts)
		if err != nil {
			return nil, err
		}
		out.Interfaces = append(out.Interfaces, list...)
	}
	// Config order: plugins, then their interfaces.
	for _, p := range d.cfg.Plugins {
		for _, ref := range p.Interfaces {
			in := d.instances[instKey{p.Name, ref}]
			if in == nil {
				continue
			}
			ps := PluginStatus{
				Name: p.Name, Interface: ref, State: in.state, Version: in.base.Version,
				OnExit: string(p.OnExit), Restarts: in.restarts, Since: in.started, LastError: in.lastErr,
			}
			if in.proc != nil {
				ps.PID, ps.PIDNamespace = in.proc.Pid(), PIDNamespace()
				settings := in.cfg.Settings
				if in.settings != nil {
					settings = in.settings
				}
				ps.SecretSettings = in.proc.Description().SecretSettings
				ps.Settings = RedactSettings(settings, ps.SecretSettings, d.salt)
				if h := in.proc.LastHealth(); h.Err != nil {
					ps.Health = h.Err.Error()
				}
			}
			out.Plugins = append(out.Plugins, ps)
		}
	}
	return out, nil
}

// PIDNamespace is the inode of this process's PID namespace (0 when it
// cannot be read): the namespace the PIDs of a Status are in.
func PIDNamespace() uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0
	}
	return st.Ino
}

// RedactSettings returns settings as they may be shown: every value in its
// JSON form (so that the config's TOML values and a status's JSON ones
// compare equal), those of the secret keys replaced by a digest salted with
// salt, "(secret sha256:…)", which says whether a value changed and never
// what it is.
func RedactSettings(settings map[string]any, secret []string, salt string) map[string]any {
	out := make(map[string]any, len(settings))
	for k, v := range settings {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
		}
		if slices.Contains(secret, k) {
			sum := sha256.Sum256(append([]byte(salt), b...))
			out[k] = "(secret sha256:" + hex.EncodeToString(sum[:6]) + ")"
			continue
		}
		var norm any
		if json.Unmarshal(b, &norm) == nil {
			out[k] = norm
		}
	}
	return out
}
