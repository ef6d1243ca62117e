package daemon

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// txn collects what one apply did, to undo it if a later step fails.
type txn struct {
	d *Daemon
	// mu guards newRoots and applied while chains change in parallel
	// (applyChains).
	mu       sync.Mutex
	started  []*host.Plugin              // processes started by this apply
	newRoots map[string]*dispatcher.Root // roots opened by this apply
	applied  []applied                   // chains changed, in order of completion
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
// one atomic swap (several interfaces at once), and configures the
// plugins. On any failure it undoes what it did and returns the error:
// nothing changes. Call with d.mu held.
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

	p, err := t.startPlugins(ctx, cfg)
	if err != nil {
		return err
	}
	if err := t.validate(ctx, p.fresh, p.next); err != nil {
		return err
	}
	d.crashPoint(CrashPluginsStarted)

	cfgProgs, err := configPrograms(cfg)
	if err != nil {
		return err
	}
	jobs, err := d.chainJobs(cfg, cfgProgs, p.next)
	if err != nil {
		return err
	}
	if err := t.applyChains(cfg, jobs); err != nil {
		return err
	}
	d.crashPoint(CrashChainsApplied)

	if err := t.configurePlugins(ctx, p); err != nil {
		return err
	}
	d.crashPoint(CrashConfigured)

	d.commit(t, p, jobs, cfgProgs, cfg, src)
	d.crashPoint(CrashReconciled)
	d.syncProfiles()
	return nil
}

// pluginPlan is an apply's plugin instances: next replaces d.instances at
// the commit; fresh were started by this apply; revive are kept instances
// whose process is not running, restarted after the commit.
type pluginPlan struct {
	next          map[instKey]*instance
	fresh, revive []*instance
}

// startPlugins keeps the running processes whose command did not change
// and starts the others (recorded in t.started).
func (t *txn) startPlugins(ctx context.Context, cfg *config.Config) (*pluginPlan, error) {
	d := t.d
	p := &pluginPlan{next: make(map[instKey]*instance)}
	for i := range cfg.Plugins {
		pc := &cfg.Plugins[i]
		for _, ref := range pc.Interfaces {
			k := instKey{pc.Name, ref}
			old := d.instances[k]
			if old != nil && sameProcess(&old.cfg, pc) {
				in := *old
				in.cfg = *pc
				p.next[k] = &in
				switch {
				case old.running() && !reflect.DeepEqual(old.cfg.Settings, pc.Settings):
					in.settings = nil
					t.settings = append(t.settings, old)
				case !old.running() && old.state != api.StateRestarting:
					p.revive = append(p.revive, &in)
				}
				continue
			}
			proc, err := d.startProcess(ctx, pc, k, nil)
			if err != nil {
				return nil, pluginError(pc.Name, ref, err)
			}
			t.started = append(t.started, proc)
			in := &instance{key: k, cfg: *pc, proc: proc, base: proc.Program(), state: api.StateRunning, started: time.Now()}
			if old != nil {
				in.epoch = old.epoch + 1
			}
			p.next[k] = in
			p.fresh = append(p.fresh, in)
		}
	}
	return p, nil
}

// configPrograms reads the config's [[program]]s: the daemon's programs
// per interface ref. Each object is read and parsed once, whatever the
// number of interfaces it goes to.
func configPrograms(cfg *config.Config) (map[string]dispatcher.Chain, error) {
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
	return cfgProgs, nil
}

// chainJob is one interface's chain change in an apply: an interface of
// the config (itf set) or one that left it (itf nil: the daemon's programs
// go from root).
type chainJob struct {
	ref  string
	itf  *config.Interface
	root *dispatcher.Root
	plan chain.Sync
}

// chainJobs plans every interface's chain: the config's interfaces in
// config order, then those that left the config.
func (d *Daemon) chainJobs(cfg *config.Config, cfgProgs map[string]dispatcher.Chain, next map[instKey]*instance) ([]chainJob, error) {
	var jobs []chainJob
	for i := range cfg.Interfaces {
		itf := &cfg.Interfaces[i]
		plan, err := buildPlan(cfg, itf, cfgProgs[itf.Ref()], next)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, chainJob{ref: itf.Ref(), itf: itf, plan: plan})
	}
	for ref, root := range d.roots {
		if cfg.Interface(ref) == nil {
			jobs = append(jobs, chainJob{ref: ref, root: root})
		}
	}
	return jobs, nil
}

// applyWorkers is how many interfaces' chains an apply changes at once.
// Each change is mostly the kernel's work (verifying and loading programs,
// swapping the root) and waits on it (RCU grace periods), so a few more
// than the CPUs keep them busy.
func applyWorkers() int {
	return min(max(2*runtime.GOMAXPROCS(0), 2), 8)
}

// applyChains changes every job's chain, applyWorkers at a time; jobs are
// started in order. On failure no further job starts and it returns the
// error of the first job in order that failed: every job before it was
// changed (abort undoes them with everything else the apply did), as when
// the interfaces were changed one after another; jobs after it that were
// already under way finish, and are undone too.
func (t *txn) applyChains(cfg *config.Config, jobs []chainJob) error {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		failed = len(jobs) // the first job in order that failed
		errs   = make([]error, len(jobs))
		wg     sync.WaitGroup
	)
	for range min(applyWorkers(), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				mu.Lock()
				stop := i > failed
				mu.Unlock()
				if stop {
					return
				}
				if err := t.applyChain(cfg, &jobs[i]); err != nil {
					mu.Lock()
					errs[i], failed = err, min(failed, i)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if failed < len(jobs) {
		return errs[failed]
	}
	return nil
}

// applyChain changes one job's chain, on the root the daemon holds or on
// one it opens (attaching it when the interface has none). Safe for
// concurrent use on distinct interfaces.
func (t *txn) applyChain(cfg *config.Config, j *chainJob) error {
	d := t.d
	root := j.root
	if j.itf != nil {
		r, created, err := d.rootFor(cfg, j.itf)
		if err != nil {
			return err
		}
		if created {
			t.mu.Lock()
			t.newRoots[j.ref] = r
			t.mu.Unlock()
			d.crashPoint(CrashRootOpened)
		} else if old := d.cfg.Interface(j.ref); old != nil && old.Mode != j.itf.Mode {
			d.log.Warn("mode changes apply when the root is created; detach the interface to change it", "interface", j.ref, "mode", j.itf.Mode, "was", old.Mode)
		}
		root = r
	}
	u, err := applyPlan(root, j.plan)
	if err != nil {
		return fmt.Errorf("interface %s: %w", j.ref, err)
	}
	d.logEvicted(j.ref, u)
	if u.Changed {
		t.mu.Lock()
		t.applied = append(t.applied, applied{j.ref, root, u})
		t.mu.Unlock()
		d.log.Info("chain updated", "interface", j.ref, "programs", len(j.plan.Owned))
		d.crashPoint(CrashInterfaceApplied)
	}
	return nil
}

// root returns the root of ref in the apply: one it opened or the one the
// daemon holds.
func (t *txn) root(ref string) *dispatcher.Root {
	if r := t.newRoots[ref]; r != nil {
		return r
	}
	return t.d.roots[ref]
}

// configurePlugins hands new plugin processes their maps (their programs
// are in the chains now) and running ones with new settings those.
func (t *txn) configurePlugins(ctx context.Context, p *pluginPlan) error {
	for _, in := range p.fresh {
		if err := configureOn(ctx, t.root(in.key.iface), in); err != nil {
			return err
		}
	}
	for _, old := range t.settings {
		if err := old.proc.ConfigureSettings(ctx, p.next[old.key].cfg.Settings); err != nil {
			return pluginError(old.cfg.Name, old.key.iface, err)
		}
	}
	return nil
}

// commit takes the apply's state: it stops the processes nobody needs any
// more, forgets the interfaces that left the config, keeps the roots the
// apply opened, and restarts kept instances that were not running.
func (d *Daemon) commit(t *txn, p *pluginPlan, jobs []chainJob, cfgProgs map[string]dispatcher.Chain, cfg, src *config.Config) {
	for k, old := range d.instances {
		if in := p.next[k]; old.proc != nil && (in == nil || in.proc != old.proc) {
			proc := old.proc
			old.proc = nil // its exit is expected
			proc.Kill()
			d.log.Info("plugin stopped", "plugin", k.plugin, "interface", k.iface)
		}
	}
	for _, j := range jobs {
		if j.itf == nil {
			d.roots[j.ref].Close()
			delete(d.roots, j.ref)
		}
	}
	for ref, r := range t.newRoots {
		d.roots[ref] = r
	}
	d.instances = p.next
	d.cfgProgs = cfgProgs
	d.cfg = cfg
	d.committed(cfg)
	d.source = src
	for _, in := range p.revive {
		in.reviving, in.restarts = true, 0
		d.scheduleRestart(in, 0)
	}
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
