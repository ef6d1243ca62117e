package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Status reports the chains and the plugin processes. iface and netns, when
// set, limit the interfaces reported.
func (d *Daemon) Status(iface, netns string) (*api.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &api.Status{Config: d.cfg.File, Interfaces: []dispatcher.InterfaceStatus{}, Plugins: []api.PluginStatus{}, SettingsSalt: d.salt}
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
			ps := api.PluginStatus{
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
