package daemon

import (
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// The sampled profile ([daemon] profile_sample = N): the daemon observes
// each of its interfaces with a profile probe that times one packet in N,
// an observation it holds itself for as long as it runs (its generations
// carry the sampled probes, as any observer's would), and /metrics exports
// what it measured. Without the setting nothing is observed and the
// generations are the plain ones.

// sampledProfiles are the daemon's own profile observations, by interface
// Ref.
type sampledProfiles struct {
	mu sync.Mutex
	m  map[string]*sampledProfile
}

// sampledProfile is one interface's.
type sampledProfile struct {
	itf config.Interface
	r   *dispatcher.Root
	o   *dispatcher.Observation
}

func (sp *sampledProfile) close() error {
	err := sp.o.Close()
	sp.r.Close()
	return err
}

// syncProfiles starts the sampled profile on every interface of the config
// in force that has none (or lost it: a root detached and attached again
// starts without leases), and ends those of interfaces the config no
// longer lists. Failures are logged: the chains are in force either way.
// Call with d.mu held, after the chains changed.
func (d *Daemon) syncProfiles() {
	n := d.cfg.Daemon.ProfileSample
	ps := &d.profiles
	ps.mu.Lock()
	defer ps.mu.Unlock()
	want := map[string]*config.Interface{}
	if n > 0 {
		for i := range d.cfg.Interfaces {
			want[d.cfg.Interfaces[i].Ref()] = &d.cfg.Interfaces[i]
		}
	}
	for ref, sp := range ps.m {
		if want[ref] != nil && sp.o.Live() {
			continue
		}
		if err := sp.close(); err != nil {
			d.log.Warn("ending the sampled profile", "interface", ref, "error", err)
		}
		delete(ps.m, ref)
	}
	for ref, itf := range want {
		if ps.m[ref] != nil {
			continue
		}
		r, err := dispatcher.Open(itf.Name, d.cfg.Options(itf))
		if err != nil {
			d.log.Warn("starting the sampled profile", "interface", ref, "error", err)
			continue
		}
		o, err := r.Observe(dispatcher.Probe{Kind: dispatcher.ProbeProfile, Sample: n})
		if err != nil {
			r.Close()
			d.log.Warn("starting the sampled profile", "interface", ref, "error", err)
			continue
		}
		if ps.m == nil {
			ps.m = map[string]*sampledProfile{}
		}
		ps.m[ref] = &sampledProfile{itf: *itf, r: r, o: o}
		d.log.Info("sampled profile on", "interface", ref, "sample", n)
	}
}

// stopProfiles ends every sampled profile: the plain generations run
// again. Call with d.mu held.
func (d *Daemon) stopProfiles() {
	ps := &d.profiles
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for ref, sp := range ps.m {
		if err := sp.close(); err != nil {
			d.log.Warn("ending the sampled profile", "interface", ref, "error", err)
		}
		delete(ps.m, ref)
	}
}

var (
	descRunSeconds = prometheus.NewDesc("xdpchain_program_run_seconds_total",
		"Time the program's body ran on the packets the daemon's sampled profile timed it on ([daemon] profile_sample = N: one packet in N is timed, at one program in turn or at all of them), since the profile started; divide its rate by that of xdpchain_program_run_seconds_count for the mean per packet, and multiply that by the rate of xdpchain_program_packets_total for an estimate over every packet.",
		[]string{"netns", "interface", "program"}, nil)
	descRunHist = prometheus.NewDesc("xdpchain_program_run_seconds",
		"Distribution of the time the program's body ran per timed packet (the sampled profile's log2 buckets).",
		[]string{"netns", "interface", "program"}, nil)
)

// collectProfiles exports the sampled profiles.
func (d *Daemon) collectProfiles(ch chan<- prometheus.Metric) {
	ps := &d.profiles
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for ref, sp := range ps.m {
		prof, err := sp.o.Profile()
		if err != nil {
			d.log.Warn("metrics: reading the sampled profile failed", "interface", ref, "error", err)
			continue
		}
		netns, name := sp.itf.NetNS, sp.itf.Name
		for _, p := range prof.Programs {
			secs := p.NsPerPacket * float64(p.Packets) / 1e9
			ch <- prometheus.MustNewConstMetric(descRunSeconds, prometheus.CounterValue, secs, netns, name, p.Name)
			buckets := make(map[float64]uint64, len(p.Buckets))
			var cum uint64
			for i, c := range p.Buckets {
				// Bucket i holds [2^i, 2^(i+1)) ns.
				cum += c
				buckets[math.Ldexp(1, i+1)/1e9] = cum
			}
			ch <- prometheus.MustNewConstHistogram(descRunHist, cum, secs, buckets, netns, name, p.Name)
		}
	}
}
