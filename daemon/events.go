package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/plugins/host"
)

type eventKind int

const (
	evExit    eventKind = iota + 1 // a plugin process exited
	evRequest                      // a plugin asks for a replace or new settings
	evRestart                      // a restart's backoff is over
)

type event struct {
	kind  eventKind
	key   instKey
	proc  *host.Plugin  // evExit, evRequest
	req   *host.Request // evRequest
	epoch int           // evRestart
}

// handle runs one event under the lock.
func (d *Daemon) handle(ctx context.Context, ev event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := d.instances[ev.key]
	switch ev.kind {
	case evExit:
		if in == nil || in.proc != ev.proc {
			return // a process the daemon stopped, or one it replaced
		}
		d.exited(ctx, in)
	case evRequest:
		if in == nil || in.proc != ev.proc {
			ev.req.Reply(fmt.Errorf("plugin %s on %s is not in force", ev.key.plugin, ev.key.iface))
			return
		}
		d.request(ctx, in, ev.req)
	case evRestart:
		if in == nil || in.state != api.StateRestarting || in.epoch != ev.epoch {
			return
		}
		d.restart(ctx, in)
	}
}

// exited applies the plugin's on_exit policy to an instance whose process
// has gone. Other instances, and other plugins' slots, are not touched.
func (d *Daemon) exited(ctx context.Context, in *instance) {
	in.proc = nil
	ran := time.Since(in.started)
	in.lastErr = "process exited"
	log := d.log.With("plugin", in.cfg.Name, "interface", in.key.iface, "on_exit", in.cfg.OnExit, "ran", ran.Round(time.Millisecond))
	if ran >= d.opts.StableAfter {
		in.restarts = 0
	}
	switch in.cfg.OnExit {
	case "detach":
		in.state = api.StateDetached
		if err := d.applyInterface(in.key.iface); err != nil {
			log.Error("plugin exited; removing its program failed, it stays in the chain", "error", err)
			in.state = api.StateExited
			return
		}
		log.Warn("plugin exited; its program left the chain")
	case "restart":
		log.Warn("plugin exited; restarting it")
		d.scheduleRestart(in, d.backoff(in.restarts))
	default:
		in.state = api.StateExited
		log.Warn("plugin exited; its program stays in the chain")
	}
}

// backoff is the delay before restart attempt n (0-based).
func (d *Daemon) backoff(n int) time.Duration {
	delay := d.opts.RestartBackoff
	for i := 0; i < n && delay < d.opts.RestartBackoffMax; i++ {
		delay *= 2
	}
	return min(delay, d.opts.RestartBackoffMax)
}

// scheduleRestart arms a restart of the instance after delay.
func (d *Daemon) scheduleRestart(in *instance, delay time.Duration) {
	in.state = api.StateRestarting
	in.epoch++
	ev := event{kind: evRestart, key: in.key, epoch: in.epoch}
	time.AfterFunc(delay, func() { d.send(ev) })
}

// restart starts an instance's process again, puts its program back in its
// chain if it changed (or had left it), and configures it. When it fails,
// the next attempt is scheduled; when attempts are used up, the program is
// kept.
func (d *Daemon) restart(ctx context.Context, in *instance) {
	log := d.log.With("plugin", in.cfg.Name, "interface", in.key.iface)
	// A start a reload asked for is no crash restart: it is not counted
	// (a failed one is, and is retried as one).
	crash := !in.reviving
	in.reviving = false
	if crash {
		d.metrics.pluginRestart(in.cfg.Name)
	}
	err := d.startInstance(ctx, in)
	if err == nil {
		if crash {
			in.restarts++
			log.Info("plugin restarted", "pid", in.proc.Pid(), "restarts", in.restarts)
		} else {
			log.Info("plugin started again by a reload", "pid", in.proc.Pid())
		}
		return
	}
	in.restarts++
	in.lastErr = err.Error()
	if in.restarts >= d.opts.RestartAttempts {
		in.state = api.StateFailed
		log.Error("plugin restart failed; attempts used up, its program stays in the chain", "attempts", in.restarts, "error", err)
		return
	}
	delay := d.backoff(in.restarts)
	log.Error("plugin restart failed; trying again", "attempt", in.restarts, "retry_in", delay, "error", err)
	d.scheduleRestart(in, delay)
}

// startInstance starts a process for an instance that has none, applies its
// program to its interface, and configures it. On failure the instance is
// as before, without a process.
func (d *Daemon) startInstance(ctx context.Context, in *instance) (err error) {
	proc, err := d.startProcess(ctx, &in.cfg, in.key, in.settings)
	if err != nil {
		return err
	}
	prevBase, prevState := in.base, in.state
	in.proc, in.base, in.state, in.started = proc, proc.Program(), api.StateRunning, time.Now()
	defer func() {
		if err != nil {
			in.proc, in.base, in.state = nil, prevBase, prevState
			proc.Kill()
		}
	}()
	if err := d.applyInterface(in.key.iface); err != nil {
		return err
	}
	return configureOn(ctx, d.roots[in.key.iface], in)
}

// applyInterface makes one interface's chain follow the daemon's current
// state (config programs and plugin instances): one atomic swap, or none
// when nothing changed.
func (d *Daemon) applyInterface(ref string) error {
	root := d.roots[ref]
	itf := d.cfg.Interface(ref)
	if root == nil || itf == nil {
		return fmt.Errorf("interface %s is not managed", ref)
	}
	plan, err := d.planFor(itf)
	if err != nil {
		return err
	}
	u, err := applyPlan(root, plan)
	d.logEvicted(ref, u)
	return err
}

// request performs a plugin's request: a replace is one atomic swap of the
// plugin's own entry on its interface; new settings go to the plugin with
// its maps unchanged.
func (d *Daemon) request(ctx context.Context, in *instance, r *host.Request) {
	log := d.log.With("plugin", in.cfg.Name, "interface", in.key.iface, "request", r.Kind.String())
	switch r.Kind {
	case host.RequestReplace:
		prev := in.base
		in.base = r.Program()
		if err := d.applyInterface(in.key.iface); err != nil {
			in.base = prev
			log.Error("plugin request refused", "error", err)
			r.Reply(err)
			return
		}
		r.Reply(nil)
		log.Info("plugin program replaced", "version", in.base.Version)
		if err := configureOn(ctx, d.roots[in.key.iface], in); err != nil {
			log.Error("configuring the plugin after its replace failed", "error", err)
		}
	case host.RequestSettings:
		r.Reply(nil)
		in.settings = r.Settings
		if err := in.proc.Configure(ctx, nil); err != nil {
			log.Error("configuring the plugin with its new settings failed", "error", err)
			return
		}
		log.Info("plugin settings changed")
	default:
		r.Reply(fmt.Errorf("unknown request %s", r.Kind))
	}
}
