package daemon

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// txn collects what one apply did, to undo it if a later step fails.
type txn struct {
	d        *Daemon
	started  []*host.Plugin              // processes started by this apply
	newRoots map[string]*dispatcher.Root // roots opened by this apply
	applied  []applied                   // chains changed, in order
	settings []*instance                 // running instances given new settings
}

type applied struct {
	ref  string
	root *dispatcher.Root
	undo *chain.Synced
}

// abort undoes the transaction: chains back (last changed first), new
// processes stopped, old settings back, new roots closed.
func (t *txn) abort(ctx context.Context) {
	for i := len(t.applied) - 1; i >= 0; i-- {
		a := t.applied[i]
		if err := restore(a.root, a.undo); err != nil {
			t.d.log.Error("undoing a chain change failed", "interface", a.ref, "error", err)
		}
	}
	for _, p := range t.started {
		p.Kill()
	}
	for _, in := range t.settings {
		if err := in.proc.ConfigureSettings(ctx, in.effectiveSettings()); err != nil {
			t.d.log.Error("restoring a plugin's settings failed", "plugin", in.cfg.Name, "interface", in.key.iface, "error", err)
		}
	}
	for _, r := range t.newRoots {
		r.Close()
	}
}

func (in *instance) effectiveSettings() map[string]any {
	if in.settings != nil {
		return in.settings
	}
	return in.cfg.Settings
}

// apply makes the kernel follow cfg: it starts the processes cfg adds or
// changes, reads the program objects, changes each interface's chain with
// one atomic swap, and configures the plugins. On any failure it undoes
// what it did and returns the error: nothing changes. Call with d.mu held.
func (d *Daemon) apply(ctx context.Context, cfg *config.Config) (err error) {
	defer d.metrics.observeApply(time.Now(), &err)
	if err := cfg.CheckFiles(); err != nil {
		return err
	}
	src := cfg
	cfg = d.expandInterfaces(src)
	d.forgetVanished(cfg)
	t := &txn{d: d, newRoots: make(map[string]*dispatcher.Root)}
	defer func() {
		if err != nil {
			t.abort(ctx)
		}
	}()

	// Plugin instances: keep running processes whose command did not change,
	// start the others.
	next := make(map[instKey]*instance)
	var fresh, revive []*instance
	for i := range cfg.Plugins {
		p := &cfg.Plugins[i]
		for _, ref := range p.Interfaces {
			k := instKey{p.Name, ref}
			old := d.instances[k]
			if old != nil && sameProcess(&old.cfg, p) {
				in := *old
				in.cfg = *p
				next[k] = &in
				switch {
				case old.running() && !reflect.DeepEqual(old.cfg.Settings, p.Settings):
					in.settings = nil
					t.settings = append(t.settings, old)
				case !old.running() && old.state != StateRestarting:
					revive = append(revive, &in)
				}
				continue
			}
			proc, err := d.startProcess(ctx, p, k, nil)
			if err != nil {
				return pluginError(p.Name, ref, err)
			}
			t.started = append(t.started, proc)
			in := &instance{key: k, cfg: *p, proc: proc, base: proc.Program(), state: StateRunning, started: time.Now()}
			if old != nil {
				in.epoch = old.epoch + 1
			}
			next[k] = in
			fresh = append(fresh, in)
		}
	}
	if err := t.validate(ctx, fresh, next); err != nil {
		return err
	}
	d.crashPoint(CrashPluginsStarted)

	// The daemon's programs per interface.
	cfgProgs := make(map[string]dispatcher.Chain)
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		prog, err := configProgram(p)
		if err != nil {
			return err
		}
		for _, ref := range p.Interfaces {
			cfgProgs[ref] = append(cfgProgs[ref], prog)
		}
	}
	plans := make(map[string]chain.Sync)
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		plan, err := buildPlan(cfg, itf, cfgProgs[itf.Ref()], next)
		if err != nil {
			return err
		}
		plans[itf.Ref()] = plan
	}

	// Chains, interface by interface, in config order; then the interfaces
	// that left the config lose the daemon's programs.
	change := func(ref string, root *dispatcher.Root, plan chain.Sync) error {
		u, err := applyPlan(root, plan)
		if err != nil {
			return fmt.Errorf("interface %s: %w", ref, err)
		}
		d.logEvicted(ref, u)
		if u.Changed {
			t.applied = append(t.applied, applied{ref, root, u})
			d.log.Info("chain updated", "interface", ref, "programs", len(plan.Owned))
			d.crashPoint(CrashInterfaceApplied)
		}
		return nil
	}
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		root, created, err := d.rootFor(cfg, itf)
		if err != nil {
			return err
		}
		if created {
			t.newRoots[itf.Ref()] = root
			d.crashPoint(CrashRootOpened)
		} else if old := d.cfg.Interface(itf.Ref()); old != nil && old.Mode != itf.Mode {
			d.log.Warn("mode changes apply when the root is created; detach the interface to change it", "interface", itf.Ref(), "mode", itf.Mode, "was", old.Mode)
		}
		if err := change(itf.Ref(), root, plans[itf.Ref()]); err != nil {
			return err
		}
	}
	var gone []string
	for ref, root := range d.roots {
		if cfg.Interface(ref) != nil {
			continue
		}
		if err := change(ref, root, chain.Sync{}); err != nil {
			return err
		}
		gone = append(gone, ref)
	}
	d.crashPoint(CrashChainsApplied)

	// Plugins get their maps once their programs are in the chains; running
	// ones with new settings get those.
	roots := func(ref string) *dispatcher.Root {
		if r := t.newRoots[ref]; r != nil {
			return r
		}
		return d.roots[ref]
	}
	for _, in := range fresh {
		if err := configureOn(ctx, roots(in.key.iface), in); err != nil {
			return err
		}
	}
	for _, old := range t.settings {
		if err := old.proc.ConfigureSettings(ctx, next[old.key].cfg.Settings); err != nil {
			return pluginError(old.cfg.Name, old.key.iface, err)
		}
	}
	d.crashPoint(CrashConfigured)

	// Commit: stop the processes nobody needs any more, forget interfaces
	// that left the config, and take the new state.
	for k, old := range d.instances {
		if in := next[k]; old.proc != nil && (in == nil || in.proc != old.proc) {
			proc := old.proc
			old.proc = nil // its exit is expected
			proc.Kill()
			d.log.Info("plugin stopped", "plugin", k.plugin, "interface", k.iface)
		}
	}
	for _, ref := range gone {
		d.roots[ref].Close()
		delete(d.roots, ref)
	}
	for ref, r := range t.newRoots {
		d.roots[ref] = r
	}
	d.instances = next
	d.cfgProgs = cfgProgs
	d.cfg = cfg
	d.committed(cfg)
	d.source = src
	for _, in := range revive {
		in.reviving, in.restarts = true, 0
		d.scheduleRestart(in, 0)
	}
	d.crashPoint(CrashReconciled)
	d.syncProfiles()
	return nil
}

// buildPlan computes what the daemon wants on one interface: the config's
// programs there and the chain entries of the plugin instances there.
func buildPlan(cfg *config.Config, itf *config.Interface, progs dispatcher.Chain, instances map[instKey]*instance) (chain.Sync, error) {
	ft := itf.Fallthrough
	plan := chain.Sync{Fallthrough: &ft, Mechanism: itf.Mechanism, Placements: placementsOf(cfg)}
	plan.Owned = append(plan.Owned, progs...)
	for k, in := range instances {
		if k.iface != itf.Ref() || !in.inChain() {
			continue
		}
		prog, err := in.program()
		if err != nil {
			return chain.Sync{}, err
		}
		plan.Owned = append(plan.Owned, prog)
	}
	return plan, nil
}

// planFor is buildPlan for the state in force.
func (d *Daemon) planFor(itf *config.Interface) (chain.Sync, error) {
	return buildPlan(d.cfg, itf, d.cfgProgs[itf.Ref()], d.instances)
}

// configProgram reads a [[program]]'s object and builds its chain entry:
// the object's own defaults (.xdp_run_config) with the config's overrides.
func configProgram(p *config.Program) (dispatcher.Program, error) {
	var prog dispatcher.Program
	var err error
	if p.XSK {
		prog, err = dispatcher.XSKProgram(p.Name)
	} else {
		var obj []byte
		if obj, err = os.ReadFile(p.Object); err != nil {
			return dispatcher.Program{}, fmt.Errorf("program %s: %w", p.Name, err)
		}
		prog, err = dispatcher.NewProgram(p.Name, obj, p.Program)
	}
	if err != nil {
		return dispatcher.Program{}, err
	}
	prog, err = configOverrides(p.Priority, p.ProceedOn, p.AllowedVerdicts, &p.Shadow).Apply(prog)
	if err != nil {
		return prog, fmt.Errorf("program %s: %w", p.Name, err)
	}
	prog.Owner = chain.ConfigOwner(p.Name).String()
	return prog, nil
}

// configOverrides are a [[program]]'s or [[plugin]]'s overrides.
func configOverrides(priority *int, proceedOn *dispatcher.VerdictSet, allowed dispatcher.VerdictSet, shadow *bool) chain.Overrides {
	o := chain.Overrides{Priority: priority, ProceedOn: proceedOn, Shadow: shadow}
	if allowed != 0 {
		o.Allowed = &allowed
	}
	return o
}

// configureOn hands a running instance its maps on root.
func configureOn(ctx context.Context, root *dispatcher.Root, in *instance) error {
	maps, err := root.ProgramMaps(in.cfg.Name)
	if err != nil {
		return pluginError(in.cfg.Name, in.key.iface, err)
	}
	if err := in.proc.Configure(ctx, maps); err != nil {
		return pluginError(in.cfg.Name, in.key.iface, err)
	}
	return nil
}
