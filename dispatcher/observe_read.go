package dispatcher

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"golang.org/x/sys/unix"
)

// Observation is one observer of an interface's chain: while it is open,
// the running generation carries its probes. Close (or the death of the
// process holding its lease) ends it.
type Observation struct {
	root  *Root
	id    string
	probe Probe
	lease *os.File

	events *ebpf.Map
	reader *perf.Reader
	lost   uint64
	// stopped: Stop flushed the reader; Read ends at the end of the
	// buffer (drained: it did).
	stopped atomic.Bool
	drained bool

	profile *ebpf.Map
	base    map[uint32]profileRow
	start   time.Time

	// names maps counter rows to program names and slots, from the
	// committed state.
	names map[uint16]rowName
	// monoOffset turns bpf_ktime_get_ns into wall-clock time.
	monoOffset time.Duration
}

type rowName struct {
	name string
	slot int
}

// eventBuffer is the size of an observation's perf buffer per CPU.
const eventBuffer = 1 << 20

// Observe starts observing the chain: it builds and swaps in a generation
// with p's probes (and those of every other live observer). The program
// p names must be in the chain (ErrNotFound). The observation holds a
// lease on the interface until Close, or until the process holding it
// (and every process it passed Lease to) dies: then the next change of the
// chain builds the generation without its probes.
func (r *Root) Observe(p Probe) (_ *Observation, err error) {
	p, err = p.normalize()
	if err != nil {
		return nil, err
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	o := &Observation{root: r, id: hex.EncodeToString(raw[:]), probe: p, start: time.Now()}
	defer func() {
		if err != nil {
			o.release()
		}
	}()
	_, err = r.Update(func(s *Spec) error {
		for _, n := range append([]string{p.Program}, p.Programs...) {
			if n != "" && !s.Programs.has(n) {
				return fmt.Errorf("%w: no program %q on %q", ErrNotFound, n, r.ifname)
			}
		}
		return o.create()
	})
	if err != nil {
		return nil, err
	}
	o.refreshNames()
	return o, nil
}

// has reports whether c holds a program called name.
func (c Chain) has(name string) bool {
	for _, p := range c {
		if p.Name == name {
			return true
		}
	}
	return false
}

// create makes the lease and the maps. Call with the interface's lock
// held.
func (o *Observation) create() (err error) {
	pd := o.root.pins
	if err := os.MkdirAll(pd.leasesDir(), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", pd.leasesDir(), err)
	}
	f, err := os.OpenFile(pd.leaseFile(o.id), os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating observation lease: %w", err)
	}
	o.lease = f
	if err := flockRetry(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking observation lease: %w", err)
	}
	b, err := json.Marshal(lease{ID: o.id, Probe: o.probe})
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("writing observation lease: %w", err)
	}
	if o.probe.Kind == ProbeProfile {
		return o.createProfile()
	}
	if err := os.MkdirAll(pd.observeMaps(o.id), 0o700); err != nil {
		return err
	}
	o.events, err = ebpf.NewMap(&ebpf.MapSpec{Name: "xdpchain_events", Type: ebpf.PerfEventArray})
	if err != nil {
		return fmt.Errorf("creating the observation's event array: %w", err)
	}
	if err := o.events.Pin(filepath.Join(pd.observeMaps(o.id), "events")); err != nil {
		return fmt.Errorf("pinning the observation's event array: %w", err)
	}
	o.reader, err = perf.NewReader(o.events, eventBuffer)
	if err != nil {
		return fmt.Errorf("opening the observation's perf buffers: %w", err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	o.monoOffset = time.Duration(time.Now().UnixNano() - ts.Nano())
	return nil
}

// createProfile opens the shared histogram, creating it for the first
// profiler, and takes its baseline.
func (o *Observation) createProfile() error {
	path := o.root.pins.profileMap()
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		m, err = ebpf.NewMap(&ebpf.MapSpec{Name: "xdpchain_prof", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: profileRowSize, MaxEntries: profileRows})
		if err != nil {
			return fmt.Errorf("creating the profile histogram: %w", err)
		}
		if err := m.Pin(path); err != nil {
			m.Close()
			return fmt.Errorf("pinning the profile histogram: %w", err)
		}
	}
	o.profile = m
	o.base, err = readProfileRows(m)
	return err
}

// ID is the observation's lease name.
func (o *Observation) ID() string { return o.id }

// Probe is what the observation observes, with its defaults filled.
func (o *Observation) Probe() Probe { return o.probe }

// Lease is the observation's lease file. A process that inherits it keeps
// the observation alive as long as it holds it (a guard that ends the
// observation when its creator dies, say).
func (o *Observation) Lease() *os.File { return o.lease }

// Live reports whether the observation still holds its lease in the
// interface's state: false once the root was detached (which removes the
// state and so every lease), even if it was attached again since; the
// generations built from then on leave its probes out, and a holder that
// wants to go on observing starts a new observation.
func (o *Observation) Live() bool {
	if o.lease == nil {
		return false
	}
	var held, named unix.Stat_t
	if err := unix.Fstat(int(o.lease.Fd()), &held); err != nil {
		return false
	}
	if err := unix.Lstat(o.root.pins.leaseFile(o.id), &named); err != nil {
		return false
	}
	return held.Dev == named.Dev && held.Ino == named.Ino
}

// release closes what the observation holds.
func (o *Observation) release() {
	if o.reader != nil {
		o.reader.Close()
	}
	if o.events != nil {
		o.events.Close()
	}
	if o.profile != nil {
		o.profile.Close()
	}
	if o.lease != nil {
		o.root.pins.removeLease(o.id)
		o.lease.Close()
		o.lease = nil
	}
}

// Close ends the observation: the chain's next generation leaves its
// probes out (the plain one when nobody else observes) and is swapped in.
//
// An observation no longer Live (its root was detached) only lets go of
// what it holds: no generation carries its probes any more.
func (o *Observation) Close() error {
	if o.lease == nil {
		return nil
	}
	if !o.Live() {
		o.release()
		return nil
	}
	_, err := o.root.Update(func(*Spec) error {
		o.root.pins.removeLease(o.id)
		return nil
	})
	o.release()
	return err
}

// EndObservations rebuilds the chain without the probes of observers whose
// holder is gone; it is what a guard runs when the process it guards died.
func (r *Root) EndObservations() error {
	_, err := r.Update(func(*Spec) error { return nil })
	return err
}

// Observing reports the live observers of the chain as the running
// generation was built for them.
func (r *Root) Observing() []Probe {
	var out []Probe
	for _, l := range r.st.Observe {
		out = append(out, l.Probe)
	}
	return out
}

func (o *Observation) refreshNames() {
	o.names = map[uint16]rowName{}
	st, err := readState(o.root.pins.stateFile())
	if err != nil {
		return
	}
	for i, ps := range st.Programs {
		o.names[uint16(ps.Counter)] = rowName{name: ps.Name, slot: i}
	}
}

// Event kinds.
const (
	EventInput    = "input"    // a packet at a program's input
	EventOutput   = "output"   // a packet at its output, with its verdict
	EventDecision = "decision" // a program's verdict (trace)
)

// Event is one record of a capture or a trace.
type Event struct {
	Kind string `json:"kind"`
	CPU  int    `json:"cpu"`
	// Slot and Program are the slot the record comes from.
	Slot    int    `json:"slot"`
	Program string `json:"program"`
	// Verdict is the verdict the chain acts on (output and decision).
	Verdict Verdict `json:"verdict"`
	// ProceedOn, Shadow, Last and Fallthrough are the slot's settings
	// in the generation that wrote the record.
	ProceedOn   VerdictSet `json:"proceed_on"`
	Shadow      bool       `json:"shadow,omitempty"`
	Last        bool       `json:"last,omitempty"`
	Fallthrough Verdict    `json:"fallthrough"`
	// Len is the packet's length; Data its first bytes (up to the snap
	// length).
	Len  int       `json:"len"`
	Data []byte    `json:"data,omitempty"`
	Time time.Time `json:"time"`
	// Lost is how many records the buffer dropped before this one.
	Lost uint64 `json:"lost,omitempty"`
}

// SetDeadline makes Read return os.ErrDeadlineExceeded after t.
func (o *Observation) SetDeadline(t time.Time) {
	if o.reader != nil {
		o.reader.SetDeadline(t)
	}
}

// Stop makes Read return the events already in the buffer and then
// os.ErrClosed (at once, also while it waits); the probes run until
// Close. Safe to call from another goroutine.
func (o *Observation) Stop() {
	if o.reader != nil {
		o.stopped.Store(true)
		o.reader.Flush()
	}
}

// Lost is how many records the buffer dropped so far.
func (o *Observation) Lost() uint64 { return o.lost }

// Read returns the next event of a capture or trace. It fails with
// os.ErrDeadlineExceeded at the deadline and with os.ErrClosed after Stop
// or Close.
func (o *Observation) Read() (Event, error) {
	if o.reader == nil {
		return Event{}, fmt.Errorf("%w: a %s observation has no events", ErrInvalid, o.probe.Kind)
	}
	var lost uint64
	if o.stopped.Load() && o.drained {
		return Event{}, os.ErrClosed
	}
	for {
		rec, err := o.reader.Read()
		if errors.Is(err, perf.ErrClosed) || (errors.Is(err, perf.ErrFlushed) && o.stopped.Load()) {
			o.drained = true
			return Event{}, os.ErrClosed
		}
		if errors.Is(err, perf.ErrFlushed) {
			continue
		}
		if err != nil {
			return Event{}, err
		}
		if rec.LostSamples > 0 {
			lost += rec.LostSamples
			o.lost += rec.LostSamples
			continue
		}
		e, err := o.decode(rec.CPU, rec.RawSample)
		if err != nil {
			continue // not ours to make sense of: skip
		}
		e.Lost = lost
		return e, nil
	}
}

// decode parses one raw record (eventMeta and the packet's bytes).
func (o *Observation) decode(cpu int, raw []byte) (Event, error) {
	if len(raw) < eventMetaSize {
		return Event{}, errors.New("short record")
	}
	le := binary.LittleEndian
	kind := le.Uint32(raw[0:])
	slot, row := le.Uint16(raw[4:]), le.Uint16(raw[6:])
	e := Event{
		CPU:         cpu,
		Slot:        int(slot),
		Verdict:     Verdict(le.Uint32(raw[8:])),
		Shadow:      raw[12]&eventFlagShadow != 0,
		Last:        raw[12]&eventFlagLast != 0,
		Fallthrough: Verdict(raw[13]),
		ProceedOn:   VerdictSet(le.Uint16(raw[14:])),
		Len:         int(le.Uint32(raw[16:])),
		Time:        time.Unix(0, int64(le.Uint64(raw[24:]))).Add(o.monoOffset),
	}
	switch kind {
	case eventInput:
		e.Kind = EventInput
	case eventOutput:
		e.Kind = EventOutput
	case eventDecision:
		e.Kind = EventDecision
	default:
		return Event{}, fmt.Errorf("record kind %d", kind)
	}
	if n := int(le.Uint32(raw[20:])); n > 0 {
		if n > len(raw)-eventMetaSize {
			return Event{}, errors.New("truncated record")
		}
		e.Data = append([]byte(nil), raw[eventMetaSize:eventMetaSize+n]...)
	}
	rn, ok := o.names[row]
	if !ok || rn.slot != e.Slot {
		o.refreshNames()
		rn = o.names[row]
	}
	e.Program = rn.name
	return e, nil
}

// profileRow is one row of the profile histogram.
type profileRow struct {
	Packets     uint64
	Nanoseconds uint64
	Buckets     [profileBuckets]uint64
}

func (a profileRow) minus(b profileRow) profileRow {
	a.Packets -= b.Packets
	a.Nanoseconds -= b.Nanoseconds
	for i := range a.Buckets {
		a.Buckets[i] -= b.Buckets[i]
	}
	return a
}

// readProfileRows sums every CPU's rows of the histogram.
func readProfileRows(m *ebpf.Map) (map[uint32]profileRow, error) {
	out := map[uint32]profileRow{}
	var cpus []profileRow
	for k := uint32(0); k < profileRows; k++ {
		if err := m.Lookup(k, &cpus); err != nil {
			return nil, fmt.Errorf("reading the profile histogram: %w", err)
		}
		var sum profileRow
		for _, c := range cpus {
			sum.Packets += c.Packets
			sum.Nanoseconds += c.Nanoseconds
			for i := range sum.Buckets {
				sum.Buckets[i] += c.Buckets[i]
			}
		}
		if sum.Packets != 0 {
			out[k] = sum
		}
	}
	return out, nil
}

// ProgramProfile is the time one program's body took per packet.
type ProgramProfile struct {
	Name string `json:"name"`
	Slot int    `json:"slot"`
	// Packets are the packets the program's body was timed on: every
	// one it ran on without sampling; sampled (Profile.Sample > 1) with
	// two copies of the chain, a share of the packets timed, which are
	// spread over the programs (observe_emit.go, Spreading).
	Packets     uint64  `json:"packets"`
	NsPerPacket float64 `json:"ns_per_packet"`
	// P50 and P99 are estimated from log2 buckets (linear within one).
	P50 float64 `json:"p50_ns"`
	P99 float64 `json:"p99_ns"`
	// Buckets[i] counts the packets that took [2^i, 2^(i+1)) ns (bucket 0
	// also those that took 0).
	Buckets []uint64 `json:"buckets"`
}

// Profile is what a profile observed since it started.
type Profile struct {
	Duration time.Duration `json:"-"`
	// Sample: one packet in Sample was timed, spread over the programs
	// unless OneCopy is set.
	Sample uint32 `json:"sample"`
	// OneCopy, when set, says why the sampled root keeps one copy of the
	// chain: an untimed packet then pays a check at each timed slot.
	OneCopy  string           `json:"one_copy,omitempty"`
	Programs []ProgramProfile `json:"programs"`
	// Root is the dispatcher's own time per packet: from its start to the
	// first slot and between one slot's end and the next one's start
	// (its buckets count each of those gaps), on the packets timed at
	// every program.
	Root ProgramProfile `json:"root"`
}

// Profile returns the time each timed program took per packet since the
// observation started, in slot order.
func (o *Observation) Profile() (*Profile, error) {
	if o.profile == nil {
		return nil, fmt.Errorf("%w: a %s observation has no profile", ErrInvalid, o.probe.Kind)
	}
	rows, err := readProfileRows(o.profile)
	if err != nil {
		return nil, err
	}
	st, err := readState(o.root.pins.stateFile())
	if err != nil {
		return nil, err
	}
	sample := o.probe.Sample
	for _, l := range st.Observe {
		if l.Probe.Kind == ProbeProfile {
			sample = min(sample, l.Probe.Sample)
		}
	}
	out := &Profile{Duration: time.Since(o.start), Sample: sample, OneCopy: st.ProfileOneCopy, Programs: []ProgramProfile{}}
	timed := map[string]bool{}
	for _, n := range o.probe.Programs {
		timed[n] = true
	}
	for i, ps := range st.Programs {
		if len(timed) > 0 && !timed[ps.Name] {
			continue
		}
		out.Programs = append(out.Programs, programProfile(ps.Name, i, rows[ps.Counter].minus(o.base[ps.Counter])))
	}
	out.Root = programProfile("(root)", -1, rows[0].minus(o.base[0]))
	return out, nil
}

func programProfile(name string, slot int, r profileRow) ProgramProfile {
	p := ProgramProfile{Name: name, Slot: slot, Packets: r.Packets, Buckets: r.Buckets[:]}
	if r.Packets > 0 {
		p.NsPerPacket = float64(r.Nanoseconds) / float64(r.Packets)
	}
	p.P50 = bucketQuantile(r.Buckets[:], 0.50)
	p.P99 = bucketQuantile(r.Buckets[:], 0.99)
	return p
}

// bucketQuantile estimates quantile q of log2 buckets, linearly within
// the bucket it falls in.
func bucketQuantile(b []uint64, q float64) float64 {
	var n uint64
	for _, c := range b {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var below uint64
	for i, c := range b {
		if c == 0 || float64(below+c) < rank {
			below += c
			continue
		}
		lo, hi := math.Ldexp(1, i), math.Ldexp(1, i+1)
		if i == 0 {
			lo = 0
		}
		return lo + (hi-lo)*(rank-float64(below))/float64(c)
	}
	return math.Ldexp(1, len(b))
}
