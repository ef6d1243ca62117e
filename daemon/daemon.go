package daemon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/host"
)

// Options tune a Daemon. The zero value is usable.
type Options struct {
	// ConfigPath is re-read on every reload. Default: the File of the config
	// passed to New.
	ConfigPath string
	// Logger receives structured logs. Default: slog.Default(). The plugin
	// processes' records go to it too (see host.Options.Logger), with the
	// attributes plugin and interface.
	Logger *slog.Logger
	// Reload triggers a reload on every receive (the run verb sends on
	// SIGHUP).
	Reload <-chan struct{}
	// RestartBackoff is the delay before the first restart of a plugin with
	// on_exit = "restart"; each further attempt doubles it, up to
	// RestartBackoffMax. Defaults 1s and 30s.
	RestartBackoff    time.Duration
	RestartBackoffMax time.Duration
	// RestartAttempts bounds consecutive restarts; then the program is kept
	// (state "failed"). Default 5.
	RestartAttempts int
	// StableAfter: a plugin that ran this long before exiting starts its
	// restart count afresh. Default one minute.
	StableAfter time.Duration
	// PluginStartTimeout bounds a plugin's handshake and description
	// (default host.DefaultStartTimeout).
	PluginStartTimeout time.Duration
	// PluginHealthInterval is how often each plugin's health is checked in
	// the background (shown in Status). Default 10s; negative disables.
	PluginHealthInterval time.Duration
	// NoSocket skips the control socket.
	NoSocket bool
	// DriftInterval is how often every configured interface is checked in
	// full (its root opened and its chain planned), as a backstop: link
	// events and the root watch (RootWatchInterval) trigger the check of
	// one interface at once (see drift.go). Default 5m; negative disables
	// the periodic check.
	DriftInterval time.Duration
	// RootWatchInterval is how often the daemon asks the kernel, with one
	// BPF_OBJ_GET_INFO_BY_FD per interface, whether each root's link is
	// still attached and runs the dispatcher the daemon last saw: a root
	// detached from outside is re-attached within this interval plus the
	// repair (the kernel sends no event for a bpf_link's detach). Default
	// 250ms; with more roots than 250 a second at this interval, the
	// interval grows with their number, to at most 1s (drift.go:
	// rootWatchRate). Negative disables the watch.
	RootWatchInterval time.Duration
	// NoLinkEvents skips the netlink link subscriptions that trigger a
	// drift check at once; with a negative DriftInterval the daemon then
	// leaves drift alone (and /readyz reports it).
	NoLinkEvents bool
	// NotifySocket is the service manager's notification socket (see
	// notify.go). Default: $NOTIFY_SOCKET; none when that is unset.
	NotifySocket string
	// WatchConfig reloads when the content of ConfigPath changes (also
	// through a ConfigMap's ..data symlink swap), as Reload would; see
	// configwatch.go.
	WatchConfig bool
	// Steps, when set, is told of each named step of the daemon's apply
	// (CrashPoints), in order: the crash tests stop the daemon there
	// (internal/crashpoint). Nil in normal use.
	Steps interface{ At(step string) }
}

func (o Options) withDefaults(cfg *config.Config) Options {
	if o.ConfigPath == "" {
		o.ConfigPath = cfg.File
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = time.Second
	}
	if o.RestartBackoffMax <= 0 {
		o.RestartBackoffMax = 30 * time.Second
	}
	if o.RestartAttempts <= 0 {
		o.RestartAttempts = 5
	}
	if o.StableAfter <= 0 {
		o.StableAfter = time.Minute
	}
	if o.PluginHealthInterval == 0 {
		o.PluginHealthInterval = 10 * time.Second
	}
	if o.DriftInterval == 0 {
		o.DriftInterval = 5 * time.Minute
	}
	if o.RootWatchInterval == 0 {
		o.RootWatchInterval = 250 * time.Millisecond
	}
	if o.NotifySocket == "" {
		o.NotifySocket = os.Getenv(EnvNotifySocket)
	}
	return o
}

// Daemon keeps interfaces' chains in line with a config. Create it with New
// and run it with Run; the other methods may be called from any goroutine
// while it runs.
type Daemon struct {
	opts Options
	log  *slog.Logger

	// mu serializes every change: reloads, plugin events, socket requests.
	mu        sync.Mutex
	cfg       *config.Config
	roots     map[string]*dispatcher.Root // by interface Ref
	instances map[instKey]*instance
	// cfgProgs are the [[program]] entries in force, by interface Ref, read
	// when the config was applied.
	cfgProgs map[string]dispatcher.Chain

	// pending is the config Run applies first.
	pending *config.Config
	// source is cfg as the file says it, interface patterns unexpanded
	// (ifglob.go).
	source *config.Config

	events   chan event
	ready    chan struct{} // closed once the first config is applied and the socket serves
	done     chan struct{}
	server   *grpc.Server
	listener net.Listener
	lock     *socketLock // the daemon's exclusive lock, beside the socket
	// stateLock is the daemon's lock in its state dir (lockStateDir).
	stateLock *socketLock

	metrics    *metrics
	metricsSrv *metricsServer // nil without [daemon] metrics
	health     health
	notify     *notifier
	// profiles are the sampled profiles ([daemon] profile_sample).
	profiles sampledProfiles
	// configChanged: the config file's content changed (WatchConfig).
	configChanged chan struct{}
	// reloadReqs: reloads a caller waits for (the Reload request).
	reloadReqs chan chan<- reloadOutcome
	// lastRead is the hash of the config file's content the last reload
	// (or the start) read: the watcher's change is no change when a reload
	// already read it (configwatch.go).
	lastRead atomic.Pointer[[sha256.Size]byte]
	// salt salts the digests of secret settings in Status.
	salt string
}

// New prepares a daemon for cfg. It changes nothing; Run does.
func New(cfg *config.Config, opts Options) *Daemon {
	opts = opts.withDefaults(cfg)
	d := &Daemon{
		opts:      opts,
		log:       opts.Logger,
		cfg:       &config.Config{File: cfg.File, Daemon: cfg.Daemon},
		roots:     make(map[string]*dispatcher.Root),
		instances: make(map[instKey]*instance),
		events:    make(chan event, 64),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		pending:   cfg,
	}
	d.metrics = newMetrics(d)
	var salt [16]byte
	rand.Read(salt[:])
	d.salt = hex.EncodeToString(salt[:])
	d.health.cfg.Store(d.cfg)
	d.notify = newNotifier(opts.NotifySocket, d.log.Warn)
	d.configChanged = make(chan struct{}, 1)
	d.reloadReqs = make(chan chan<- reloadOutcome, 16)
	return d
}

// Run is New followed by Daemon.Run.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	return New(cfg, opts).Run(ctx)
}

// Run applies the config, serves the control socket and supervises the
// plugins until ctx is done. If the first apply fails, nothing is changed
// and Run returns the error. When ctx is done, Run stops the plugin
// processes, leaves every program in its chain, and returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	defer close(d.done)
	// Before anything is created (socket, pins): a kernel that refuses
	// bpf() (seccomp, LSM, capabilities) is said to be the reason.
	if err := dispatcher.CheckBPF(); err != nil {
		return err
	}
	if !d.opts.NoSocket {
		// Before any chain is touched: a second daemon stops here.
		if err := d.claimSocket(d.pending.Daemon); err != nil {
			return err
		}
	}
	if addr := d.pending.Daemon.Metrics; addr != "" {
		if err := d.serveMetrics(addr); err != nil {
			d.shutdown()
			return err
		}
	}
	cfgSum := configSum(d.opts.ConfigPath) // what the config in force was read from
	d.lastRead.Store(&cfgSum)
	d.mu.Lock()
	cfg := d.pending
	d.pending = nil
	err := d.apply(ctx, cfg)
	d.mu.Unlock()
	if err != nil {
		d.shutdown()
		return fmt.Errorf("applying %s: %w", cfg.File, err)
	}
	d.health.started.Store(true)
	d.log.Info("config applied", "config", cfg.File, "interfaces", len(cfg.Interfaces), "plugins", len(cfg.Plugins), "programs", len(cfg.Programs))
	d.sweep()
	stopDrift := d.watchDrift(ctx)
	stopDrift = d.withConfigWatch(ctx, stopDrift)
	if !d.opts.NoSocket {
		if err := d.serve(cfg.Daemon); err != nil {
			stopDrift()
			d.shutdown()
			return err
		}
	}
	close(d.ready)
	d.notify.ready("config applied; chains in line")
	for {
		select {
		case <-ctx.Done():
			d.health.stopping.Store(true)
			d.notify.stopping()
			stopDrift()
			d.shutdown()
			return nil
		case <-d.opts.Reload:
			d.reloads(ctx, true, nil)
		case <-d.configChanged:
			d.reloads(ctx, false, nil)
		case w := <-d.reloadReqs:
			d.reloads(ctx, true, w)
		case ev := <-d.events:
			d.handle(ctx, ev)
		}
	}
}

// Ready is closed once Run has applied the first config and the control
// socket serves.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Done is closed when Run has returned.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Reload re-reads the config file and applies it. If the file does not
// validate, or anything fails while applying it, nothing changes and the
// error (wrapping api.ErrReload) says why.
func (d *Daemon) Reload(ctx context.Context) error {
	_, err := d.reload(ctx)
	return err
}

// reload is Reload, and says what is in force after it.
func (d *Daemon) reload(ctx context.Context) (*api.ReloadResult, error) {
	start := time.Now()
	sum := configSum(d.opts.ConfigPath)
	d.lastRead.Store(&sum)
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		// Refused before an apply started (the file does not parse or
		// validate): counted like a refused apply, so that one alert on
		// xdpchain_apply_errors_total sees every refused reload.
		d.metrics.observeApply(start, &err)
		return nil, fmt.Errorf("%w: %w", api.ErrReload, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// What only a restart can change stays as it is, and the log says so.
	keep := restartOnly(d.cfg.Daemon, cfg.Daemon)
	cfg.Daemon = d.cfg.Daemon
	if err := d.apply(ctx, cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrReload, err)
	}
	d.log.Info("config reloaded", "config", cfg.File, "interfaces", len(cfg.Interfaces), "plugins", len(cfg.Plugins), "programs", len(cfg.Programs))
	if len(keep) > 0 {
		d.log.Warn("config reloaded, but these [daemon] settings take effect only when the daemon restarts; the running values stay", "settings", strings.Join(keep, "; "))
	}
	return &api.ReloadResult{Config: cfg.File, Interfaces: len(cfg.Interfaces), Plugins: len(cfg.Plugins), Programs: len(cfg.Programs), RestartOnly: keep}, nil
}

// Config returns the config in force.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// sweep removes the daemon's programs from interfaces the config no longer
// lists: left there by an earlier run with another config. Other owners'
// programs stay. Best effort: failures are logged.
func (d *Daemon) sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	list, err := dispatcher.List(&dispatcher.Options{BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir})
	if err != nil {
		d.log.Warn("listing interfaces for leftovers", "error", err)
		return
	}
	for _, s := range list {
		ref := chain.NewInterface(s.NetNS, s.Name).String()
		if s.Foreign != nil || s.Damaged != "" || d.cfg.Interface(ref) != nil {
			continue // another instance's, unreadable, or in the config
		}
		owned := false
		for _, p := range s.Programs {
			owned = owned || chain.Managed(p.Owner)
		}
		if !owned {
			continue
		}
		r, err := dispatcher.Open(s.Name, &dispatcher.Options{NetNS: s.NetNS, BPFFS: d.cfg.Daemon.BPFFS, StateDir: d.cfg.Daemon.StateDir})
		if err != nil {
			d.log.Warn("opening an interface with leftovers", "interface", ref, "error", err)
			continue
		}
		if _, err := applyPlan(r, chain.Sync{}); err != nil {
			d.log.Warn("removing leftovers", "interface", ref, "error", err)
		} else {
			d.log.Info("removed the daemon's programs from an interface no longer in the config", "interface", ref)
		}
		r.Close()
	}
}

// shutdown stops every plugin process and the socket, and closes the
// roots. Programs stay in their chains.
func (d *Daemon) shutdown() {
	defer d.lock.Unlock() // last: the next daemon starts after this one is done
	defer d.stateLock.Unlock()
	d.stopMetrics()
	if d.server != nil {
		d.server.Stop()
		d.server = nil
	}
	if d.listener != nil {
		d.listener.Close()
		d.listener = nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range d.instances {
		if in.proc == nil {
			continue
		}
		proc := in.proc
		in.proc, in.state = nil, api.StateStopped
		wg.Add(1)
		go func() { defer wg.Done(); proc.Kill() }()
	}
	wg.Wait()
	host.CleanupAll()
	d.stopProfiles()
	for ref, r := range d.roots {
		r.Close()
		delete(d.roots, ref)
	}
	d.log.Info("daemon stopped; programs stay in their chains")
}

// send queues an event for the loop; it is dropped once the daemon has
// stopped.
func (d *Daemon) send(ev event) {
	select {
	case d.events <- ev:
	case <-d.done:
		if ev.req != nil {
			ev.req.Reply(errors.New("the daemon is stopping"))
		}
	}
}

// rootFor returns the root of a config interface, attaching it if needed.
// created reports a root opened by this call.
func (d *Daemon) rootFor(cfg *config.Config, iface *config.Interface) (r *dispatcher.Root, created bool, err error) {
	if r := d.roots[iface.Ref()]; r != nil {
		return r, false, nil
	}
	r, err = dispatcher.Attach(iface.Name, cfg.Options(iface))
	if err != nil {
		return nil, false, fmt.Errorf("interface %s: %w", iface.Ref(), err)
	}
	return r, true, nil
}
