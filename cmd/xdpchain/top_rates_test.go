package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// topStatus is one interface's status with programs named and counted as
// given (pass and drop counts).
func topStatus(linkID uint32, ft uint64, progs ...dispatcher.ProgramStatus) dispatcher.InterfaceStatus {
	for i := range progs {
		progs[i].Slot = i
	}
	return dispatcher.InterfaceStatus{
		Name: "eth0", NetNS: "blue", NetNSInode: 7, Ifindex: 3, LinkID: linkID,
		Fallthrough: "pass", FallthroughPackets: ft, Programs: progs,
	}
}

func topProg(name string, pass, drop uint64) dispatcher.ProgramStatus {
	return dispatcher.ProgramStatus{Name: name, Owner: "user:0", Stats: dispatcher.Stats{Pass: pass, Drop: drop}}
}

func sampleAt(at time.Time, itfs ...dispatcher.InterfaceStatus) topSample {
	return topSample{at: at, status: &client.Status{Interfaces: itfs}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestTopRates: rates are counter deltas over the time between samples;
// the interface's rate is the first slot's, shares are of it.
func TestTopRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := sampleAt(t0, topStatus(1, 100, topProg("first", 1000, 500), topProg("second", 200, 0)))
	// In 2s: first saw 600 packets (400 pass, 200 drop), second 400
	// (passes), of which 100 fell through.
	cur := sampleAt(t0.Add(2*time.Second), topStatus(1, 200, topProg("first", 1400, 700), topProg("second", 500, 100)))

	f := computeFrame(&prev, cur)
	if f.Elapsed != 2*time.Second || len(f.Interfaces) != 1 {
		t.Fatalf("frame: %+v", f)
	}
	itf := f.Interfaces[0]
	if !itf.RateKnown || !near(itf.Rate, 300) {
		t.Errorf("interface rate %v (known %v), want 300 (the first slot's)", itf.Rate, itf.RateKnown)
	}
	if itf.FallthroughRate == nil || !near(*itf.FallthroughRate, 50) {
		t.Errorf("fall-through rate %v, want 50", itf.FallthroughRate)
	}
	first, second := itf.Programs[0], itf.Programs[1]
	if first.Rates == nil || !near(first.Rates.Pass, 200) || !near(first.Rates.Drop, 100) || !near(first.Rates.Total(), 300) {
		t.Errorf("first: %+v", first.Rates)
	}
	if !first.ShareKnown || !near(first.Share, 1) {
		t.Errorf("first's share %v, want 1", first.Share)
	}
	if second.Rates == nil || !near(second.Rates.Total(), 200) || !second.ShareKnown || !near(second.Share, 200.0/300) {
		t.Errorf("second: %+v, share %v", second.Rates, second.Share)
	}
}

// TestTopRatesFirstSample: one sample alone lists the chain without rates.
func TestTopRatesFirstSample(t *testing.T) {
	f := computeFrame(nil, sampleAt(time.Unix(1000, 0), topStatus(1, 5, topProg("p", 10, 0))))
	if f.Elapsed != 0 || len(f.Interfaces) != 1 {
		t.Fatalf("frame: %+v", f)
	}
	itf := f.Interfaces[0]
	if itf.RateKnown || itf.FallthroughRate != nil || itf.Programs[0].Rates != nil || itf.Programs[0].ShareKnown {
		t.Errorf("rates from one sample: %+v", itf)
	}
	if f := computeFrame(nil, topSample{at: time.Unix(1000, 0)}); len(f.Interfaces) != 0 {
		t.Errorf("a sample without status: %+v", f)
	}
}

// TestTopRatesChanges: counters that went down restarted from zero; a new
// program has no rate yet, a removed one is gone; a root attached anew
// (another link) counts from zero; a damaged root is listed without rates.
func TestTopRatesChanges(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := sampleAt(t0, topStatus(1, 0, topProg("reloaded", 5000, 0), topProg("removed", 10, 0)))
	cur := sampleAt(t0.Add(time.Second), topStatus(1, 0, topProg("reloaded", 30, 0), topProg("new", 7, 0)))
	f := computeFrame(&prev, cur)
	ps := f.Interfaces[0].Programs
	if len(ps) != 2 || ps[0].Name != "reloaded" || ps[1].Name != "new" {
		t.Fatalf("programs: %+v", ps)
	}
	if ps[0].Rates == nil || !near(ps[0].Rates.Pass, 30) {
		t.Errorf("a restarted counter: %+v, want 30/s", ps[0].Rates)
	}
	if ps[1].Rates != nil || ps[1].ShareKnown {
		t.Errorf("a new program has a rate: %+v", ps[1])
	}
	// One column lower is a restart of all: drop went 0 -> 0, pass down.
	if r := statsRate(dispatcher.Stats{Pass: 10, Drop: 1}, dispatcher.Stats{Pass: 4, Drop: 3}, 1); !near(r.Pass, 4) || !near(r.Drop, 3) {
		t.Errorf("restart: %+v", r)
	}

	reattached := sampleAt(t0.Add(time.Second), topStatus(2, 3, topProg("reloaded", 6000, 0), topProg("new", 7, 0)))
	f = computeFrame(&prev, reattached)
	itf := f.Interfaces[0]
	if r := itf.Programs[0].Rates; r == nil || !near(r.Pass, 6000) {
		t.Errorf("after the root was attached anew: %+v, want 6000/s (from zero)", r)
	}
	if r := itf.Programs[1].Rates; r == nil || !near(r.Pass, 7) {
		t.Errorf("a program of the new root: %+v, want 7/s (from zero)", r)
	}
	if itf.FallthroughRate == nil || !near(*itf.FallthroughRate, 3) {
		t.Errorf("fall-through of the new root: %v", itf.FallthroughRate)
	}

	damaged := dispatcher.InterfaceStatus{Ifindex: 3, NetNSInode: 7, Damaged: "state is unreadable"}
	f = computeFrame(&prev, sampleAt(t0.Add(time.Second), damaged))
	if len(f.Interfaces) != 1 || f.Interfaces[0].Damaged == "" || len(f.Interfaces[0].Programs) != 0 {
		t.Errorf("damaged: %+v", f.Interfaces)
	}
	// No program: every packet falls through, the interface's rate is the
	// fall-through's.
	f = computeFrame(&prev, sampleAt(t0.Add(time.Second), topStatus(1, 40)))
	if itf := f.Interfaces[0]; !itf.RateKnown || !near(itf.Rate, 40) {
		t.Errorf("empty chain: rate %v (known %v), want 40", itf.Rate, itf.RateKnown)
	}
	// Samples out of order (a clock step): no rates.
	if f := computeFrame(&cur, prev); f.Elapsed != 0 || f.Interfaces[0].Programs[0].Rates != nil {
		t.Errorf("backwards: %+v", f)
	}
}

// TestTopPluginState: a plugin's program shows its process's state, an
// unhealthy running one "unhealthy"; others, or without a daemon, nothing.
func TestTopPluginState(t *testing.T) {
	itf := topStatus(1, 0, dispatcher.ProgramStatus{Name: "bl", Owner: "plugin:blocklist"}, topProg("mine", 0, 0))
	d := &api.Status{Plugins: []api.PluginStatus{{Name: "blocklist", Interface: "blue/eth0", State: api.StateRunning}}}
	s := topSample{at: time.Unix(1, 0), status: &client.Status{Interfaces: []dispatcher.InterfaceStatus{itf}, Daemon: d}}
	ps := computeFrame(nil, s).Interfaces[0].Programs
	if ps[0].State != "running" || ps[1].State != "" {
		t.Errorf("states: %q, %q", ps[0].State, ps[1].State)
	}
	d.Plugins[0].Health = "plugin blocklist: health check: timeout"
	if got := computeFrame(nil, s).Interfaces[0].Programs[0].State; got != "unhealthy" {
		t.Errorf("unhealthy plugin: %q", got)
	}
	s.status.Daemon = nil
	if got := computeFrame(nil, s).Interfaces[0].Programs[0].State; got != "" {
		t.Errorf("without a daemon: %q", got)
	}
}

// TestTopProfileNs: NS/PKT is the time over the packets timed between two
// profiles of one observation (since it started for the first); a program
// timed on no packet in between has none; a profile that went down (a new
// observation) counts from zero; the frame draws the column only while
// profiling.
func TestTopProfileNs(t *testing.T) {
	prof := func(progs ...dispatcher.ProgramProfile) *dispatcher.Profile {
		return &dispatcher.Profile{Sample: 1, Programs: progs}
	}
	pp := func(name string, packets uint64, ns float64) dispatcher.ProgramProfile {
		return dispatcher.ProgramProfile{Name: name, Packets: packets, NsPerPacket: ns}
	}
	key := topItfKey{7, 3}
	t0 := time.Unix(1000, 0)
	s0 := sampleAt(t0, topStatus(1, 0, topProg("a", 10, 0), topProg("b", 10, 0)))
	s0.profiling, s0.profiles = true, map[topItfKey]*dispatcher.Profile{key: prof(pp("a", 100, 50), pp("b", 10, 1000))}
	s1 := sampleAt(t0.Add(time.Second), topStatus(1, 0, topProg("a", 20, 0), topProg("b", 20, 0)))
	// a: 100 more packets at 150 ns each; b: none timed in between.
	s1.profiling, s1.profiles = true, map[topItfKey]*dispatcher.Profile{key: prof(pp("a", 200, 100), pp("b", 10, 1000))}

	f := computeFrame(nil, s0)
	if a := f.Interfaces[0].Programs[0]; a.Ns == nil || !near(*a.Ns, 50) {
		t.Errorf("first sample: a's ns %v, want 50 (since the observation started)", a.Ns)
	}
	f = computeFrame(&s0, s1)
	a, b := f.Interfaces[0].Programs[0], f.Interfaces[0].Programs[1]
	if a.Ns == nil || !near(*a.Ns, 150) || b.Ns != nil {
		t.Errorf("a's ns %v (want 150), b's %v (want none)", a.Ns, b.Ns)
	}
	if out := renderFrame(f, topView{}); !strings.Contains(out, "NS/PKT") || !strings.Contains(out, "150") {
		t.Errorf("profiling frame:\n%s", out)
	}

	// A new observation (profiling switched off and on): from zero.
	s2 := sampleAt(t0.Add(2*time.Second), topStatus(1, 0, topProg("a", 30, 0)))
	s2.profiling, s2.profiles = true, map[topItfKey]*dispatcher.Profile{key: prof(pp("a", 4, 30))}
	if a := computeFrame(&s1, s2).Interfaces[0].Programs[0]; a.Ns == nil || !near(*a.Ns, 30) {
		t.Errorf("after a new observation a's ns %v, want 30", a.Ns)
	}

	// Not profiling: no column.
	s3 := sampleAt(t0.Add(3*time.Second), topStatus(1, 0, topProg("a", 40, 0)))
	if out := renderFrame(computeFrame(&s2, s3), topView{}); strings.Contains(out, "NS/PKT") {
		t.Errorf("frame without profiling:\n%s", out)
	}
}
