package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// health is the daemon's life cycle as /readyz and the service manager see
// it.
type health struct {
	started  atomic.Bool // the first config is applied
	stopping atomic.Bool // Run is stopping
	// cfg is the config in force (d.cfg), readable without d.mu.
	cfg atomic.Pointer[config.Config]
	// waiting are the refs of configured interfaces that do not exist yet
	// (ifglob.go); d.mu.
	waiting map[string]bool
}

// committed records that apply took cfg into force. Call with d.mu held.
func (d *Daemon) committed(cfg *config.Config) {
	if prev := d.health.cfg.Load(); prev != nil && prev.Daemon.Metrics != cfg.Daemon.Metrics {
		d.log.Warn("[daemon] metrics changed; the new address applies at the next start", "metrics", cfg.Daemon.Metrics, "serving", d.MetricsAddr())
	}
	d.health.cfg.Store(cfg)
	d.metrics.configApplied(cfg)
}

// snapshot is what a scrape or a readiness check needs of the daemon's
// state, copied under d.mu so that reading the pins happens without it.
type snapshot struct {
	cfg      *config.Config
	started  bool
	stopping bool
	want     []wantChain
	waiting  []string
	plugins  []pluginUp
	planErr  error
}

// wantChain is the daemon's part of one configured interface's chain.
type wantChain struct {
	itf   config.Interface
	progs map[string]string // name -> owner
}

// pluginUp is one plugin instance's health, labelled like every
// per-interface metric: the interface's netns (as the config names it) and
// name.
type pluginUp struct {
	name, netns, iface string
	up                 bool
}

func (d *Daemon) snapshot() snapshot {
	s := snapshot{cfg: d.health.cfg.Load(), started: d.health.started.Load(), stopping: d.health.stopping.Load()}
	if !s.started {
		return s // the first apply holds d.mu until it is done: do not wait
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s.cfg = d.cfg
	for ref := range d.health.waiting {
		s.waiting = append(s.waiting, ref)
	}
	slices.Sort(s.waiting)
	for i := range d.cfg.Interfaces {
		itf := &d.cfg.Interfaces[i]
		plan, err := d.planFor(itf)
		if err != nil && s.planErr == nil {
			s.planErr = fmt.Errorf("interface %s: %w", itf.Ref(), err)
		}
		w := wantChain{itf: *itf, progs: make(map[string]string, len(plan.Owned))}
		for _, p := range plan.Owned {
			w.progs[p.Name] = p.Owner
		}
		s.want = append(s.want, w)
	}
	for _, p := range d.cfg.Plugins {
		for _, ref := range p.Interfaces {
			in := d.instances[instKey{p.Name, ref}]
			if in == nil {
				continue
			}
			up := in.proc != nil && in.state == api.StateRunning && in.proc.LastHealth().Err == nil
			itf := d.cfg.Interface(ref)
			if itf == nil {
				continue
			}
			s.plugins = append(s.plugins, pluginUp{name: p.Name, netns: itf.NetNS, iface: itf.Name, up: up})
		}
	}
	return s
}

// notReady returns why the chains are not in line with the config in
// force, given the chains' status; "" when they are. In line means: every
// configured interface has a readable root whose daemon-owned programs are
// exactly those the daemon wants there (by name and owner), with the
// configured fall-through verdict.
func (s *snapshot) notReady(list []dispatcher.InterfaceStatus) string {
	switch {
	case s.stopping:
		return "the daemon is stopping"
	case !s.started:
		return "applying the config"
	case s.planErr != nil:
		return s.planErr.Error()
	}
	var why []string
	for _, ref := range s.waiting {
		why = append(why, fmt.Sprintf("interface %s does not exist (its chain is applied when it appears)", ref))
	}
	for _, w := range s.want {
		ref := w.itf.Ref()
		i := slices.IndexFunc(list, func(st dispatcher.InterfaceStatus) bool {
			return st.Name == w.itf.Name && st.NetNS == w.itf.NetNS
		})
		if i < 0 {
			why = append(why, fmt.Sprintf("interface %s: no xdpchain root", ref))
			continue
		}
		st := &list[i]
		if st.Foreign != nil {
			why = append(why, fmt.Sprintf("interface %s: its root is managed by %s", ref, st.Foreign))
			continue
		}
		if st.Damaged != "" {
			why = append(why, fmt.Sprintf("interface %s: root damaged: %s", ref, st.Damaged))
			continue
		}
		if st.Fallthrough != w.itf.Fallthrough.String() {
			why = append(why, fmt.Sprintf("interface %s: fall-through %s, want %s", ref, st.Fallthrough, w.itf.Fallthrough))
		}
		seen := make(map[string]bool)
		for _, p := range st.Programs {
			if owner, ok := w.progs[p.Name]; ok && owner == p.Owner {
				seen[p.Name] = true
			} else if daemonOwned(p.Owner) {
				why = append(why, fmt.Sprintf("interface %s: program %s (%s) is not in the config", ref, p.Name, p.Owner))
			}
		}
		var missing []string
		for name := range w.progs {
			if !seen[name] {
				missing = append(missing, name)
			}
		}
		slices.Sort(missing)
		for _, name := range missing {
			why = append(why, fmt.Sprintf("interface %s: program %s (%s) is missing from the chain", ref, name, w.progs[name]))
		}
	}
	return strings.Join(why, "; ")
}

// Readiness reports whether every configured interface's chain is in line
// with the config in force: nil, or an error saying why not.
func (d *Daemon) Readiness() error {
	s := d.snapshot()
	if why := s.notReady(nil); !s.started || s.stopping || s.planErr != nil {
		return fmt.Errorf("not ready: %s", why)
	}
	list, err := dispatcher.List(&dispatcher.Options{BPFFS: s.cfg.Daemon.BPFFS, StateDir: s.cfg.Daemon.StateDir})
	if err != nil {
		return fmt.Errorf("not ready: reading the chains: %w", err)
	}
	if why := s.notReady(list); why != "" {
		return fmt.Errorf("not ready: %s", why)
	}
	return nil
}

func (d *Daemon) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := d.Readiness(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ready")
}
