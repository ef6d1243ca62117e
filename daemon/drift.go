package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// driftSettle is how long the drift watcher lets a burst of link events
// (a veth pair is created, addressed and set up in several steps) settle
// before it checks the interfaces they name.
const driftSettle = 100 * time.Millisecond

// drift keeps the configured interfaces' roots attached between reloads: it
// watches link events in every network namespace the config names (an
// interface created or deleted), watches each root's link (rootWatch: a
// detach from outside, a chain changed by another process) and, as a
// backstop, checks every interface periodically. An interface whose root
// is missing (detached from outside, or the interface deleted and created
// again with a new ifindex), or whose chain lacks the daemon's programs,
// gets its chain back through the daemon's reconcile path for one interface
// (planFor and applyPlan, as applyInterface). See heal.
type drift struct {
	d        *Daemon
	interval time.Duration

	kick chan struct{} // a link event marked a ref dirty

	mu    sync.Mutex
	dirty map[string]bool // refs named by link events since the last check
	all   bool            // a subscription was lost: check every interface

	subs      map[string]*linkSub // by netns spec as the config names it; loop only
	subFailed map[string]bool     // specs whose subscription failed, logged once
	// missing are the refs whose interface does not exist, logged once;
	// touched with d.mu held.
	missing map[string]bool

	// The root watch's view, by ref (loop only): when each root was last
	// seen attached, and whether a detach or a chain changed by another
	// process was reported (so that a failed repair is retried by the
	// periodic check, not at every poll).
	seenAttached map[string]time.Time
	reported     map[string]bool
	started      time.Time // the first check done: every root was in line
}

// linkSub is one link event subscription, in one network namespace.
type linkSub struct {
	inode   uint64
	done    chan struct{} // closed to end it
	updates chan netlink.LinkUpdate
	ended   chan struct{} // closed when updates is drained and closed
}

// watchDrift starts the drift watcher; stop ends it and waits for it. Call
// once the first config is applied.
func (d *Daemon) watchDrift(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	w := &drift{
		d:         d,
		interval:  d.opts.DriftInterval,
		kick:      make(chan struct{}, 1),
		dirty:     make(map[string]bool),
		subs:      make(map[string]*linkSub),
		subFailed: make(map[string]bool),
		missing:   make(map[string]bool),

		seenAttached: make(map[string]time.Time),
		reported:     make(map[string]bool),
	}
	// The first check is part of start-up: drift from before the watcher
	// started (between the first apply and now) is healed before the
	// daemon reports ready, and a test that changes a chain after Ready
	// races no check.
	w.subscribe(ctx)
	w.checkWith(ctx, nil, true)
	w.started = time.Now()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		w.run(ctx)
	}()
	return func() {
		cancel()
		<-finished
	}
}

func (w *drift) run(ctx context.Context) {
	defer w.unsubscribeAll()
	var tick, rootTick <-chan time.Time
	if w.interval > 0 {
		t := time.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C
	}
	var rootTimer *time.Timer
	if every := w.d.opts.RootWatchInterval; every > 0 {
		rootTimer = time.NewTimer(w.rootWatchEvery(w.d.rootCount()))
		defer rootTimer.Stop()
		rootTick = rootTimer.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-rootTick:
			refs, detached, roots := w.watchRoots()
			if len(refs) > 0 {
				w.check(ctx, refs)
				w.reportRepairs(detached)
			}
			rootTimer.Reset(w.rootWatchEvery(roots))
		case <-tick:
			w.subscribe(ctx)
			w.check(ctx, nil)
		case <-w.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(driftSettle):
			}
			w.mu.Lock()
			refs, all := w.dirty, w.all
			w.dirty, w.all = make(map[string]bool), false
			w.mu.Unlock()
			if all {
				w.subscribe(ctx)
				refs = nil
			}
			w.check(ctx, refs)
		}
	}
}

// Root watch rate: with more roots than Options.RootWatchInterval lets the
// watch ask about at rootWatchRate per second, the interval grows with the
// number of roots, to at most rootWatchMax. One question (a
// BPF_OBJ_GET_INFO_BY_FD on the root's link) costs about 10 µs of CPU on a
// busy 2-CPU VM (the link's info takes the RTNL lock), so 250 roots asked
// about 4 times a second kept the idle daemon at 0.9 % of a CPU; once a
// second, a detach from outside is still repaired within about a second.
const (
	rootWatchRate = 250
	rootWatchMax  = time.Second
)

// rootWatchEvery is the root watch's interval with roots roots.
func (w *drift) rootWatchEvery(roots int) time.Duration {
	every := w.d.opts.RootWatchInterval
	if need := time.Duration(roots) * time.Second / rootWatchRate; need > every {
		every = max(min(need, rootWatchMax), every)
	}
	return every
}

func (d *Daemon) rootCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.roots)
}

// watchRoots asks the kernel about each root's link (Root.Running, one
// syscall each) and returns the refs to check: roots detached from outside
// (also in detached, with when they were last seen attached) and roots
// whose chain another process changed. Each is reported once until it is
// seen attached and current again. roots is how many roots it asked about.
func (w *drift) watchRoots() (refs map[string]bool, detached map[string]time.Time, roots int) {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	roots = len(d.roots)
	for ref, r := range d.roots {
		attached, current, err := r.Running()
		switch {
		case err != nil:
			continue // the link fd answers nothing: the periodic check decides
		case attached && current:
			w.seenAttached[ref], w.reported[ref] = now, false
			continue
		case w.reported[ref]:
			continue
		}
		w.reported[ref] = true
		if refs == nil {
			refs, detached = make(map[string]bool), make(map[string]time.Time)
		}
		refs[ref] = true
		if !attached {
			if w.seenAttached[ref].IsZero() {
				w.seenAttached[ref] = w.started // not polled yet: in line since start-up
			}
			detached[ref] = w.seenAttached[ref]
			d.log.Warn("root detached from outside; re-attaching", "interface", ref, "attached_at", w.seenAttached[ref].Format(time.RFC3339Nano))
		}
	}
	return refs, detached, roots
}

// reportRepairs logs and measures, for each root detached from outside,
// how long its interface may have run without the chain: from the last
// poll that saw it attached to now, when the check that repairs it is
// done.
func (w *drift) reportRepairs(detached map[string]time.Time) {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for ref, since := range detached {
		r := d.roots[ref]
		if r == nil {
			continue
		}
		if attached, _, err := r.Running(); err != nil || !attached {
			continue // not repaired (the log says why); the periodic check tries again
		}
		window := time.Since(since)
		d.metrics.unprotected.Observe(window.Seconds())
		d.log.Info("root re-attached after a detach from outside", "interface", ref, "unprotected_at_most", window.String())
	}
}

// mark records that ref (or, when all, every interface) needs a check.
func (w *drift) mark(ref string, all bool) {
	w.mu.Lock()
	if all {
		w.all = true
	} else {
		w.dirty[ref] = true
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// subscribe makes the subscriptions follow the config: one per network
// namespace it names, renewed when the namespace was replaced (a new inode
// under the same name) or the subscription failed. Namespaces a reload adds
// are watched from the next periodic check on.
func (w *drift) subscribe(ctx context.Context) {
	if ctx.Err() != nil || w.d.opts.NoLinkEvents {
		return
	}
	cfg := w.d.sourceConfig() // the namespaces of interface patterns too
	want := make(map[string]bool)
	for i := range cfg.Interfaces {
		want[cfg.Interfaces[i].NetNS] = true
	}
	for spec, s := range w.subs {
		if !want[spec] || s.isEnded() || netnsInode(spec) != s.inode {
			s.stop()
			delete(w.subs, spec)
		}
	}
	for spec := range want {
		if w.subs[spec] != nil {
			continue
		}
		s, err := w.subscribeIn(spec)
		if err != nil {
			if !w.subFailed[spec] {
				w.subFailed[spec] = true
				w.d.log.Warn("watching links failed; interfaces there are checked periodically only", "netns", spec, "error", err)
			}
			continue
		}
		delete(w.subFailed, spec)
		w.subs[spec] = s
	}
}

func (w *drift) subscribeIn(spec string) (*linkSub, error) {
	s := &linkSub{
		done:    make(chan struct{}),
		updates: make(chan netlink.LinkUpdate, 64),
		ended:   make(chan struct{}),
	}
	opts := netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case <-s.done: // closing the socket ends the receive loop
			default:
				w.d.log.Warn("link events", "netns", spec, "error", err)
			}
		},
	}
	if spec != "" {
		h, err := netns.GetFromPath(dispatcher.NetNSPath(spec))
		if err != nil {
			return nil, err
		}
		defer h.Close() // the socket is created in the namespace; the handle is not kept
		opts.Namespace = &h
	}
	s.inode = netnsInode(spec)
	if err := netlink.LinkSubscribeWithOptions(s.updates, s.done, opts); err != nil {
		return nil, err
	}
	go func() {
		defer close(s.ended)
		for u := range s.updates {
			if u.Link == nil {
				continue
			}
			w.mark(chain.NewInterface(spec, u.Link.Attrs().Name).String(), false)
		}
		select {
		case <-s.done:
		default:
			// The subscription failed (e.g. the socket overflowed): events
			// were lost, so renew it and check everything.
			w.mark("", true)
		}
	}()
	return s, nil
}

func (s *linkSub) isEnded() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

// stop ends the subscription and waits until its goroutines are done.
func (s *linkSub) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	<-s.ended
}

func (w *drift) unsubscribeAll() {
	for spec, s := range w.subs {
		s.stop()
		delete(w.subs, spec)
	}
}

// netnsInode identifies the namespace spec names now; 0 if it is gone.
func netnsInode(spec string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(dispatcher.NetNSPath(spec), &st); err != nil {
		return 0
	}
	return st.Ino
}

// check heals the configured interfaces in refs (nil: all of them), in
// config order.
func (w *drift) check(ctx context.Context, refs map[string]bool) {
	w.checkWith(ctx, refs, false)
}

// checkWith is check; with running, an interface whose root the daemon
// holds and which still runs the dispatcher the daemon committed
// (Root.Running: one syscall, where heal reads the root's pins and state)
// is taken as in line. That is how the check at start-up runs, right after
// the apply that opened or changed every root: any drift since (a detach,
// another process's change, the interface deleted) shows in Running.
func (w *drift) checkWith(ctx context.Context, refs map[string]bool, running bool) {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metrics.driftChecks.Inc()
	d.reexpand(ctx, refs)
	for i := range d.cfg.Interfaces {
		if ctx.Err() != nil {
			return // stopping: shutdown closes the roots
		}
		itf := &d.cfg.Interfaces[i]
		if refs != nil && !refs[itf.Ref()] {
			continue
		}
		if r := d.roots[itf.Ref()]; running && r != nil {
			if attached, current, err := r.Running(); err == nil && attached && current {
				continue
			}
		}
		w.heal(ctx, itf)
	}
}

// heal re-applies an interface's chain when it drifted: the daemon's root
// was detached from outside, the interface is new (created after the config
// was applied, or deleted and created again), or the daemon's programs are
// missing from a root in place (removed with the CLI, bypassing the
// daemon). The change is the daemon's one-interface reconcile (planFor,
// applyPlan): one atomic swap that keeps other owners' programs, or none
// when the chain is as the config wants it. Call with d.mu held.
func (w *drift) heal(ctx context.Context, itf *config.Interface) {
	d := w.d
	ref := itf.Ref()
	log := d.log.With("interface", ref)
	old := d.roots[ref]
	opts := d.cfg.Options(itf)

	cur, err := dispatcher.Open(itf.Name, opts)
	reason, created := "", false
	var notFound netlink.LinkNotFoundError
	switch {
	case err == nil:
		if old != nil && sameInterface(old, cur) {
			cur.Close()
			cur, reason = old, "chain drifted"
		} else {
			// Someone attached a root to a new interface of that name.
			reason = "root on a new interface"
		}
	case errors.As(err, &notFound):
		if !w.missing[ref] {
			w.missing[ref] = true
			log.Warn("interface is gone; its chain is re-applied when it is back")
		}
		return
	case errors.Is(err, dispatcher.ErrNotAttached):
		cur, err = dispatcher.Attach(itf.Name, opts)
		if err != nil {
			log.Error("re-attaching the root failed; trying again at the next check", "error", err)
			return
		}
		created, reason = true, "root missing"
		if old != nil {
			reason = "root detached from outside"
			if ifindex(old) != ifindex(cur) {
				reason = "interface created again"
			}
		}
	default:
		log.Error("checking the root failed", "error", err)
		return
	}
	delete(w.missing, ref)

	plan, err := d.planFor(itf)
	changed := false
	if err == nil {
		var u *chain.Synced
		if u, err = applyPlan(cur, plan); err == nil {
			changed = u.Changed
		}
		d.logEvicted(ref, u)
	}
	if err != nil {
		if cur != old {
			// Nothing changes: a root this check attached goes again,
			// unless someone else's programs are in it by now.
			if s, serr := cur.Spec(); created && serr == nil && len(s.Programs) == 0 {
				if derr := cur.Detach(); derr != nil {
					log.Error("detaching the new root failed", "error", derr)
				}
			}
			cur.Close()
		}
		log.Error("re-applying the chain failed; trying again at the next check", "reason", reason, "error", err)
		return
	}
	if cur == old && !changed {
		return // in line with the config
	}
	if cur != old {
		d.roots[ref] = cur
		if old != nil {
			old.Close()
		}
	}
	log.Info("chain re-applied", "reason", reason, "ifindex", ifindex(cur), "programs", len(plan.Owned))
	d.metrics.driftRepaired(itf)
	d.syncProfiles()

	// Running plugins get their maps on the re-applied chain (new maps for
	// a new root or a program that was missing).
	for k, in := range d.instances {
		if k.iface != ref || !in.running() || !in.inChain() {
			continue
		}
		if err := configureOn(ctx, cur, in); err != nil {
			log.Error("handing a plugin its maps on the re-applied chain failed", "plugin", k.plugin, "error", err)
		}
	}
}

// sameInterface reports whether two roots are on the same interface.
func sameInterface(a, b *dispatcher.Root) bool {
	an, ai := a.Interface()
	bn, bi := b.Interface()
	return an == bn && ai == bi
}

func ifindex(r *dispatcher.Root) int {
	_, idx := r.Interface()
	return idx
}
