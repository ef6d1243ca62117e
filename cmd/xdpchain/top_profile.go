package main

import (
	"context"
	"errors"
	"sync"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// topProfiler is the profiling of `xdpchain top` (--profile, key p): while
// it is on, each interface top shows is observed with a profile probe
// (through the daemon when one answers, as `profile` does), and each poll
// reads the time every program took since the observation started. Off,
// every observation is ended: the plain generation runs again.
type topProfiler struct {
	env    *cliEnv
	c      client.Client
	sample uint32

	mu  sync.Mutex
	on  bool
	obs map[chain.Interface]*topObserver
}

// topObserver is one interface's observation and what ends its guard.
type topObserver struct {
	o         client.Observer
	stopGuard func()
}

func newTopProfiler(env *cliEnv, c client.Client, sample uint32) *topProfiler {
	return &topProfiler{env: env, c: c, sample: sample, obs: map[chain.Interface]*topObserver{}}
}

// toggle switches profiling on or off; it reports the new state. The
// observations start (or end) at the next poll.
func (p *topProfiler) toggle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = !p.on
	return p.on
}

// read brings the observations in line with the switch and the interfaces
// of st, and returns each observed interface's profile since its
// observation started, and the errors of those that could not be
// profiled.
func (p *topProfiler) read(ctx context.Context, st *client.Status) (map[topItfKey]*dispatcher.Profile, map[topItfKey]error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on || st == nil {
		p.closeLocked()
		return nil, nil
	}
	profs, errs := map[topItfKey]*dispatcher.Profile{}, map[topItfKey]error{}
	seen := map[chain.Interface]bool{}
	for i := range st.Interfaces {
		s := &st.Interfaces[i]
		if s.Damaged != "" {
			continue
		}
		key, itf := topItfKey{s.NetNSInode, s.Ifindex}, chain.NewInterface(s.NetNS, s.Name)
		seen[itf] = true
		to, err := p.observe(itf)
		if err == nil {
			profs[key], err = to.o.Profile(ctx)
		}
		if err != nil {
			errs[key] = err
		}
	}
	// Interfaces gone from the view are no longer observed.
	for itf, to := range p.obs {
		if !seen[itf] {
			to.close()
			delete(p.obs, itf)
		}
	}
	return profs, errs
}

// observe returns the interface's observation, starting it if need be.
// Call with mu held.
func (p *topProfiler) observe(itf chain.Interface) (*topObserver, error) {
	if to := p.obs[itf]; to != nil {
		return to, nil
	}
	o, err := p.c.Observe(context.Background(), itf, dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: p.sample})
	if err != nil {
		return nil, err
	}
	to := &topObserver{o: o, stopGuard: func() {}}
	// On the pins, a guard ends the observation if top dies (SIGKILL)
	// without ending it; a daemon holds the lease itself.
	if lease := o.Lease(); lease != nil && p.env.guard != "" {
		if to.stopGuard, err = p.env.startGuard(itf.NetNS, itf.Name, lease); err != nil {
			o.Close()
			return nil, err
		}
	}
	p.obs[itf] = to
	return to, nil
}

func (to *topObserver) close() error {
	err := to.o.Close()
	to.stopGuard()
	return err
}

// closeLocked ends every observation. Call with mu held.
func (p *topProfiler) closeLocked() error {
	var errs []error
	for itf, to := range p.obs {
		errs = append(errs, to.close())
		delete(p.obs, itf)
	}
	return errors.Join(errs...)
}

// close ends every observation (top exits).
func (p *topProfiler) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = false
	return p.closeLocked()
}

// profileNs is the mean nanoseconds per timed packet of each program
// between two profiles of one observation (prev nil: since it started);
// a program timed on no packet in between is left out.
func profileNs(prev, cur *dispatcher.Profile) map[string]float64 {
	out := map[string]float64{}
	if cur == nil {
		return out
	}
	before := map[string]dispatcher.ProgramProfile{}
	if prev != nil {
		for _, pp := range prev.Programs {
			before[pp.Name] = pp
		}
	}
	for _, pp := range cur.Programs {
		b := before[pp.Name]
		if pp.Packets < b.Packets {
			b = dispatcher.ProgramProfile{} // a new observation
		}
		if n := pp.Packets - b.Packets; n > 0 {
			out[pp.Name] = (pp.NsPerPacket*float64(pp.Packets) - b.NsPerPacket*float64(b.Packets)) / float64(n)
		}
	}
	return out
}
