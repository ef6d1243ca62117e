package dispatcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Observation is a generation like any other (docs/operations.md, "Seeing
// inside the chain"). While someone observes an interface, every generation
// built for it carries the probes the observers asked for: timestamps around
// slots (profile), a copy of the packets at a slot's input or output
// (capture), a record per decision (trace). When the last observer goes,
// the next generation is the plain one again, instruction for instruction.
// The probes never change a verdict, a counter or a map of the chain.
//
// Each observer holds a lease: a file in the interface's state directory,
// flock'd for as long as the observer lives, naming what it observes. Every
// apply reads the leases under the interface's lock, drops those whose
// holder is gone, and builds the generation for the rest; so a SIGKILLed
// observer is noticed by the next change of the chain, whoever makes it.
//
// The files (see docs/pins.md):
//
//	<statedir>/.../observe/<id>.json      a lease: its Probe, flock'd by its holder
//	<bpffs>/.../observe/<id>/events       a capture's or trace's perf event array
//	<bpffs>/.../observe/profile           the profile histogram, shared by profilers

// ProbeKind is what an observer observes.
type ProbeKind string

// Kinds of probes.
const (
	// ProbeProfile times each program's body on (a sample of) the packets.
	ProbeProfile ProbeKind = "profile"
	// ProbeCapture copies packets at a program's input or output.
	ProbeCapture ProbeKind = "capture"
	// ProbeTrace records every packet's start and each slot's decision.
	ProbeTrace ProbeKind = "trace"
)

// CapturePoint is where a capture copies a program's packets.
type CapturePoint string

// Capture points.
const (
	AtInput  CapturePoint = "input"  // as the program receives it
	AtOutput CapturePoint = "output" // as it leaves it, with its verdict
)

// Snap lengths of captures: the default (and largest) and the trace's
// default.
const (
	MaxSnaplen       = 65000
	DefaultTraceSnap = 128
)

// Probe is one observer's request.
type Probe struct {
	Kind ProbeKind `json:"kind"`
	// Program is the captured program; "" captures the chain's input.
	Program string `json:"program,omitempty"`
	// At is the capture point (AtOutput when empty).
	At CapturePoint `json:"at,omitempty"`
	// Verdicts are the verdicts an output capture copies (all when 0).
	Verdicts VerdictSet `json:"verdicts,omitempty"`
	// Snaplen bounds the bytes copied per packet (MaxSnaplen when 0).
	Snaplen uint32 `json:"snaplen,omitempty"`
	// Sample times one packet in Sample (every packet when 0 or 1).
	Sample uint32 `json:"sample,omitempty"`
	// Programs are the programs a profile times (all when empty).
	Programs []string `json:"programs,omitempty"`
}

// normalize fills the defaults and checks p.
func (p Probe) normalize() (Probe, error) {
	bad := func(format string, a ...any) (Probe, error) {
		return Probe{}, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch p.Kind {
	case ProbeProfile, ProbeCapture, ProbeTrace:
	default:
		return bad("no probe kind %q (want profile, capture or trace)", p.Kind)
	}
	if p.At == "" {
		p.At = AtOutput
	}
	if p.At != AtInput && p.At != AtOutput {
		return bad("no capture point %q (want input or output)", p.At)
	}
	if p.Program == "" && p.Kind == ProbeCapture {
		p.At = AtInput // the chain's input
	}
	if p.Verdicts&^AllVerdicts != 0 {
		return bad("verdict set %#x", uint32(p.Verdicts))
	}
	if p.At == AtInput && p.Verdicts != 0 {
		return bad("verdicts select packets at a program's output, not its input")
	}
	if p.Snaplen == 0 {
		p.Snaplen = MaxSnaplen
		if p.Kind == ProbeTrace {
			p.Snaplen = DefaultTraceSnap
		}
	}
	if p.Snaplen > MaxSnaplen {
		return bad("snap length %d, at most %d", p.Snaplen, MaxSnaplen)
	}
	if p.Sample == 0 {
		p.Sample = 1
	}
	for _, n := range append([]string{p.Program}, p.Programs...) {
		if n != "" && !ValidName(n) {
			return bad("bad program name %q", n)
		}
	}
	return p, nil
}

// lease is one observer, as the state records it.
type lease struct {
	ID    string `json:"id"`
	Probe Probe  `json:"probe"`
}

var leaseIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (p pinDir) leasesDir() string            { return filepath.Join(p.state, "observe") }
func (p pinDir) leaseFile(id string) string   { return filepath.Join(p.leasesDir(), id+".json") }
func (p pinDir) observeDir() string           { return filepath.Join(p.bpf, "observe") }
func (p pinDir) observeMaps(id string) string { return filepath.Join(p.observeDir(), id) }
func (p pinDir) profileMap() string           { return filepath.Join(p.observeDir(), "profile") }

// checkLeases refuses leases a state could not trust (their IDs become
// paths).
func checkLeases(ls []lease) error {
	for _, l := range ls {
		if !leaseIDRE.MatchString(l.ID) {
			return fmt.Errorf("bad observation id %q", l.ID)
		}
	}
	return nil
}

// liveLeases reads the leases of the interface's observers, removing those
// whose holder is gone (its lease is not locked). Call with the
// interface's lock held.
func (p pinDir) liveLeases() ([]lease, error) {
	entries, err := os.ReadDir(p.leasesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading observations: %w", err)
	}
	var out []lease
	profiled := false
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !leaseIDRE.MatchString(id) {
			continue
		}
		l, alive, err := p.readLease(id)
		if err != nil {
			return nil, err
		}
		if !alive {
			p.removeLease(id)
			continue
		}
		out = append(out, l)
		profiled = profiled || l.Probe.Kind == ProbeProfile
	}
	if !profiled {
		os.Remove(p.profileMap())
	}
	slices.SortFunc(out, func(a, b lease) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// readLease reads a lease and whether its holder lives.
func (p pinDir) readLease(id string) (lease, bool, error) {
	f, err := os.OpenFile(p.leaseFile(id), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return lease{}, false, nil
	}
	if err != nil {
		return lease{}, false, fmt.Errorf("opening observation %s: %w", id, err)
	}
	defer f.Close()
	err = flockRetry(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		return lease{}, false, nil // nobody holds it
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return lease{}, false, fmt.Errorf("locking observation %s: %w", id, err)
	}
	var l lease
	b, err := readFileNoFollow(p.leaseFile(id), 1<<16)
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err == nil && l.ID != id {
		err = fmt.Errorf("names observation %q", l.ID)
	}
	if err == nil {
		l.Probe, err = l.Probe.normalize()
	}
	if err != nil {
		// Held, but unreadable: not ours to build; treat as gone.
		return lease{}, false, nil
	}
	return l, true, nil
}

// removeLease removes a lease and its maps.
func (p pinDir) removeLease(id string) {
	os.RemoveAll(p.observeMaps(id))
	os.Remove(p.leaseFile(id))
	os.Remove(p.leasesDir())  // only when empty
	os.Remove(p.observeDir()) // likewise
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// sameLeases reports whether two lists of leases (sorted) are the same.
func sameLeases(a, b []lease) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Probe.Kind != y.Probe.Kind || x.Probe.Program != y.Probe.Program || x.Probe.At != y.Probe.At ||
			x.Probe.Verdicts != y.Probe.Verdicts || x.Probe.Snaplen != y.Probe.Snaplen || x.Probe.Sample != y.Probe.Sample ||
			!slices.Equal(x.Probe.Programs, y.Probe.Programs) {
			return false
		}
	}
	return true
}

// observing is what a generation observes: the live leases with their
// maps opened.
type observing struct {
	// profile is the shared histogram when some lease profiles; sample
	// is the smallest sampling rate asked, profiled the programs timed
	// (nil: all).
	profile  *ebpf.Map
	sample   uint32
	profiled map[string]bool
	// events are the perf event arrays of captures and traces.
	events []observedEvents
	// pass is the copy of the chain being emitted (observe_emit.go,
	// emitDualRoot); single, when set, says why a sampled profile's root
	// keeps one copy of the chain.
	pass   obsPass
	dual   bool
	single string
	// cold is the timed copy's out-of-line code (observe_emit.go,
	// Spreading), appended after it.
	cold asm.Instructions
}

type observedEvents struct {
	probe Probe
	m     *ebpf.Map
}

func (o *observing) close() {
	if o == nil {
		return
	}
	if o.profile != nil {
		o.profile.Close()
	}
	for _, e := range o.events {
		e.m.Close()
	}
}

// openObserving opens the maps of the leases; a lease whose maps are gone
// is left out.
func (p pinDir) openObserving(ls []lease) (*observing, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	o := &observing{}
	ok := false
	defer func() {
		if !ok {
			o.close()
		}
	}()
	for _, l := range ls {
		switch l.Probe.Kind {
		case ProbeProfile:
			if o.profile == nil {
				m, err := ebpf.LoadPinnedMap(p.profileMap(), nil)
				if err != nil {
					return nil, fmt.Errorf("opening the profile histogram: %w", err)
				}
				o.profile = m
				o.sample = l.Probe.Sample
			}
			o.sample = min(o.sample, l.Probe.Sample)
			if o.profiled == nil && !allProfiled(ls) {
				o.profiled = map[string]bool{}
			}
			for _, n := range l.Probe.Programs {
				if o.profiled != nil {
					o.profiled[n] = true
				}
			}
		default:
			m, err := ebpf.LoadPinnedMap(filepath.Join(p.observeMaps(l.ID), "events"), nil)
			if err != nil {
				return nil, fmt.Errorf("opening observation %s: %w", l.ID, err)
			}
			o.events = append(o.events, observedEvents{probe: l.Probe, m: m})
		}
	}
	ok = true
	return o, nil
}

// allProfiled reports whether some profile lease times every program.
func allProfiled(ls []lease) bool {
	for _, l := range ls {
		if l.Probe.Kind == ProbeProfile && len(l.Probe.Programs) == 0 {
			return true
		}
	}
	return false
}

// timed reports whether the generation times the body of s.
func (o *observing) timed(s *slot) bool {
	return o != nil && o.profile != nil && (o.profiled == nil || o.profiled[s.Name])
}

// capturesAt returns the event arrays that capture slot i (program s) at
// the point at.
func (o *observing) capturesAt(i int, s *slot, at CapturePoint) []observedEvents {
	if o == nil {
		return nil
	}
	var out []observedEvents
	for _, e := range o.events {
		switch e.probe.Kind {
		case ProbeCapture:
			if e.probe.At == at && (e.probe.Program == s.Name || (e.probe.Program == "" && i == 0)) {
				out = append(out, e)
			}
		case ProbeTrace:
			if at == AtInput && i == 0 {
				out = append(out, e)
			}
		}
	}
	return out
}

// traces returns the event arrays of traces.
func (o *observing) traces() []observedEvents {
	if o == nil {
		return nil
	}
	var out []observedEvents
	for _, e := range o.events {
		if e.probe.Kind == ProbeTrace {
			out = append(out, e)
		}
	}
	return out
}
