package main

import (
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// topSample is one poll of `xdpchain top`: the status the client answered
// and when.
type topSample struct {
	at     time.Time
	status *client.Status
	// profiling: the profiler was on; profiles are the observed
	// interfaces' profiles since their observations started,
	// profileErrs why others could not be profiled.
	profiling   bool
	profiles    map[topItfKey]*dispatcher.Profile
	profileErrs map[topItfKey]error
}

// topRates is packets per second by the verdict a program returned.
type topRates struct {
	Aborted, Drop, Pass, TX, Redirect, Invalid, Denied float64
}

// Total is the program's packets per second.
func (r topRates) Total() float64 {
	return r.Aborted + r.Drop + r.Pass + r.TX + r.Redirect + r.Invalid + r.Denied
}

// Abort is the packets per second that left the program as XDP_ABORTED:
// the ones it aborted and those the dispatcher turned into XDP_ABORTED
// (invalid and denied verdicts).
func (r topRates) Abort() float64 { return r.Aborted + r.Invalid + r.Denied }

// topProgram is one program's row of a frame.
type topProgram struct {
	Slot   int
	Name   string
	Owner  string
	Shadow bool
	// State is the state of the plugin process behind the program (with
	// "unhealthy" for a running one whose last health check failed), ""
	// when the program is not a plugin's or no daemon answered.
	State string
	// Rates is nil while the program has been in one sample only.
	Rates *topRates
	// Share is the program's packets/s over its interface's (0..1);
	// ShareKnown is false when either is unknown or the interface saw no
	// packet.
	Share      float64
	ShareKnown bool
	// Ns is the mean nanoseconds per timed packet of the program's body
	// (profiling on), nil when unknown.
	Ns *float64
}

// topInterface is one interface's part of a frame.
type topInterface struct {
	Name, NetNS string
	// Damaged says why a root cannot be shown (damaged, or another
	// instance's: rootNote); the rest is then empty.
	Damaged string
	// Rate is the packets per second the root ran (RateKnown false before
	// two samples): see interfaceRate.
	Rate      float64
	RateKnown bool
	// Fallthrough is the fall-through verdict, FallthroughRate the packets
	// per second every program continued on (nil before two samples).
	Fallthrough     string
	FallthroughRate *float64
	Programs        []topProgram
	// ProfileErr says why the interface could not be profiled.
	ProfileErr string
}

// topFrame is what one screen of `xdpchain top` shows: the rates between
// two samples.
type topFrame struct {
	At time.Time
	// Elapsed is the time between the two samples, 0 for a frame made of
	// the first sample alone (no rates).
	Elapsed    time.Duration
	Interfaces []topInterface
	// Profiling: the frame has the NS/PKT column.
	Profiling bool
}

// topItfKey identifies an interface's root across samples.
type topItfKey struct {
	netns   uint64
	ifindex int
}

// computeFrame turns two samples into rates: the difference of each
// counter over the time between them. prev may be nil (the first sample):
// the frame then lists the chains without rates. A counter lower than
// before (the program was removed and loaded again, the root attached
// anew) restarted from zero: its rate is its new count over the interval.
// A program or interface absent from prev has no rate yet; one absent
// from cur is not shown.
func computeFrame(prev *topSample, cur topSample) topFrame {
	f := topFrame{At: cur.at, Interfaces: []topInterface{}, Profiling: cur.profiling}
	if cur.status == nil {
		return f
	}
	before := map[topItfKey]*dispatcher.InterfaceStatus{}
	if prev != nil && prev.status != nil && cur.at.After(prev.at) {
		f.Elapsed = cur.at.Sub(prev.at)
		for i := range prev.status.Interfaces {
			s := &prev.status.Interfaces[i]
			if s.Damaged == "" {
				before[topItfKey{s.NetNSInode, s.Ifindex}] = s
			}
		}
	}
	secs := f.Elapsed.Seconds()
	for i := range cur.status.Interfaces {
		s := &cur.status.Interfaces[i]
		ti := topInterface{Name: s.DisplayName(), NetNS: s.NetNS, Damaged: s.Damaged, Fallthrough: s.Fallthrough, Programs: []topProgram{}}
		if s.Damaged != "" {
			f.Interfaces = append(f.Interfaces, ti)
			continue
		}
		old := before[topItfKey{s.NetNSInode, s.Ifindex}]
		// A root attached anew has new counters: all from zero.
		restarted := old != nil && old.LinkID != s.LinkID
		if restarted {
			old = &dispatcher.InterfaceStatus{}
		}
		key := topItfKey{s.NetNSInode, s.Ifindex}
		var ns map[string]float64
		if cur.profiling {
			var prevProf *dispatcher.Profile
			if prev != nil && prev.profiling {
				prevProf = prev.profiles[key]
			}
			ns = profileNs(prevProf, cur.profiles[key])
			if err := cur.profileErrs[key]; err != nil {
				ti.ProfileErr = oneLine(err.Error())
			}
		}
		oldStats := map[string]dispatcher.Stats{}
		if old != nil {
			for _, p := range old.Programs {
				oldStats[p.Name] = p.Stats
			}
			ft := float64(counterDelta(old.FallthroughPackets, s.FallthroughPackets)) / secs
			ti.FallthroughRate = &ft
		}
		for j := range s.Programs {
			p := &s.Programs[j]
			tp := topProgram{Slot: p.Slot, Name: p.Name, Owner: p.Owner, Shadow: p.Shadow, State: pluginState(cur.status.Daemon, s, p)}
			if o, ok := oldStats[p.Name]; ok || restarted {
				r := statsRate(o, p.Stats, secs)
				tp.Rates = &r
			}
			if v, ok := ns[p.Name]; ok {
				tp.Ns = &v
			}
			ti.Programs = append(ti.Programs, tp)
		}
		ti.Rate, ti.RateKnown = interfaceRate(ti)
		for j := range ti.Programs {
			p := &ti.Programs[j]
			if p.Rates != nil && ti.RateKnown && ti.Rate > 0 {
				p.Share, p.ShareKnown = p.Rates.Total()/ti.Rate, true
			}
		}
		f.Interfaces = append(f.Interfaces, ti)
	}
	return f
}

// interfaceRate is the packets per second the root ran. Every packet is
// counted at each program it passes through, so summing the programs
// would count a packet once per program; each packet passes the first
// slot (a slot counts every verdict, shadow or not, and later slots see
// only what the earlier ones continued on), so the root's packets are the
// first slot's. It is taken as the largest rate of any program and of the
// fall-through (with no program, every packet falls through): the first
// slot's while the chain is unchanged, and the best known value for the
// sample in which a new program took the first slot.
func interfaceRate(ti topInterface) (float64, bool) {
	var rate float64
	known := ti.FallthroughRate != nil
	if known {
		rate = *ti.FallthroughRate
	}
	for _, p := range ti.Programs {
		if p.Rates != nil {
			known = true
			rate = max(rate, p.Rates.Total())
		}
	}
	return rate, known
}

// statsRate is the per-verdict rate from old to cur over secs seconds. If
// any counter went down the program's counters restarted from zero (a
// program removed and loaded again keeps its name but not its counts):
// cur is then the count since the restart.
func statsRate(old, cur dispatcher.Stats, secs float64) topRates {
	if cur.Aborted < old.Aborted || cur.Drop < old.Drop || cur.Pass < old.Pass || cur.TX < old.TX ||
		cur.Redirect < old.Redirect || cur.Invalid < old.Invalid || cur.Denied < old.Denied {
		old = dispatcher.Stats{}
	}
	d := func(o, c uint64) float64 { return float64(c-o) / secs }
	return topRates{
		Aborted: d(old.Aborted, cur.Aborted), Drop: d(old.Drop, cur.Drop), Pass: d(old.Pass, cur.Pass),
		TX: d(old.TX, cur.TX), Redirect: d(old.Redirect, cur.Redirect), Invalid: d(old.Invalid, cur.Invalid),
		Denied: d(old.Denied, cur.Denied),
	}
}

// counterDelta is cur-old, or cur when the counter restarted from zero.
func counterDelta(old, cur uint64) uint64 {
	if cur < old {
		return cur
	}
	return cur - old
}

// pluginState is the state of the plugin process behind a program, ""
// when it is not a plugin's (or d is nil: no daemon answered).
func pluginState(d *api.Status, itf *dispatcher.InterfaceStatus, p *dispatcher.ProgramStatus) string {
	if d == nil {
		return ""
	}
	ps := d.Process(itf, p)
	if ps == nil {
		return ""
	}
	if ps.Health != "" && ps.State == api.StateRunning {
		return "unhealthy"
	}
	return ps.State
}
