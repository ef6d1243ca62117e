package daemon

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// instKey names a plugin instance: one process per plugin per interface.
type instKey struct {
	plugin string
	iface  string // config.Interface Ref
}

func (k instKey) String() string { return k.plugin + "@" + k.iface }

// instance is one plugin process serving one interface, and the chain entry
// it provides there.
type instance struct {
	key instKey
	cfg config.Plugin
	// proc is the running process, nil when none runs.
	proc *host.Plugin
	// base is the program the plugin last described (or had a replace
	// request accepted for), before the config's overrides; Object nil
	// before the first successful start.
	base dispatcher.Program
	// settings the plugin asked for with a settings request; nil: the
	// config's.
	settings map[string]any

	state    string
	started  time.Time
	restarts int // consecutive restarts
	// reviving: the next start is a reload's (the operator's), not a
	// crash restart: it neither counts nor backs off.
	reviving bool
	lastErr  string // why it last exited or failed to start
	// epoch counts processes, so that a timer armed for an earlier one is
	// ignored.
	epoch int
}

func (in *instance) running() bool { return in.proc != nil }

// inChain reports whether the instance's program belongs in the chain.
func (in *instance) inChain() bool { return in.base.Object != nil && in.state != api.StateDetached }

// program returns the chain entry: the plugin's description with the
// config's overrides. The config's allowed verdicts narrow what the plugin
// declares; they never widen it.
func (in *instance) program() (dispatcher.Program, error) {
	return pluginProgram(&in.cfg, in.base)
}

func pluginProgram(p *config.Plugin, base dispatcher.Program) (dispatcher.Program, error) {
	prog, err := configOverrides(p.Priority, p.ProceedOn, p.AllowedVerdicts, nil).Apply(base)
	if err != nil {
		return base, fmt.Errorf("plugin %s: allowed_verdicts: %w", p.Name, err)
	}
	prog.Name = p.Name
	prog.Owner = chain.PluginOwner(p.Name).String()
	return prog, nil
}

// sameProcess reports whether two configs of a plugin run the same process;
// if not, a reload replaces the process.
func sameProcess(a, b *config.Plugin) bool {
	return a.Command == b.Command && reflect.DeepEqual(a.Args, b.Args) && a.SHA256 == b.SHA256 && a.User == b.User
}

// startProcess starts a plugin's process for one interface and forwards its
// exit and its requests to the daemon's event loop.
func (d *Daemon) startProcess(ctx context.Context, p *config.Plugin, key instKey, settings map[string]any) (*host.Plugin, error) {
	proc, err := host.Start(ctx, d.processOptions(p, key, settings))
	if err != nil {
		return nil, err
	}
	d.log.Info("plugin started", "plugin", p.Name, "interface", key.iface, "pid", proc.Pid(), "version", proc.Description().Version)
	go d.watch(key, proc)
	return proc, nil
}

// processOptions are a plugin process's options for one interface; nil
// settings: the config's.
func (d *Daemon) processOptions(p *config.Plugin, key instKey, settings map[string]any) host.Options {
	if settings == nil {
		settings = p.Settings
	}
	return host.Options{
		Name:           p.Name,
		Command:        p.Command,
		Args:           p.Args,
		SHA256:         p.SHA256,
		User:           p.User,
		Settings:       settings,
		StartTimeout:   d.opts.PluginStartTimeout,
		HealthInterval: max(d.opts.PluginHealthInterval, 0),
		Logger:         d.log.With("interface", key.iface),
		Env:            []string{"XDPCHAIN_INTERFACE=" + key.iface},
	}
}

// watch forwards a process's requests and its exit to the event loop.
func (d *Daemon) watch(key instKey, proc *host.Plugin) {
	for {
		select {
		case r := <-proc.Requests():
			d.send(event{kind: evRequest, key: key, proc: proc, req: r})
		case <-proc.Exited():
			d.send(event{kind: evExit, key: key, proc: proc})
			return
		}
	}
}
