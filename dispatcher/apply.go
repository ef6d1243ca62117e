package dispatcher

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Spec returns the interface's chain as last read from the pins, in slot
// order. Program.Object is filled.
func (r *Root) Spec() (Spec, error) {
	s := Spec{Fallthrough: r.st.Fallthrough, Mechanism: r.st.Mechanism, NoCounters: r.st.NoCounters, Revision: r.st.revision(), Programs: Chain{}}
	for _, ps := range r.st.Programs {
		p := ps.program()
		obj, err := r.pins.loadObject(ps.Object)
		if err != nil {
			return Spec{}, &ProgramError{Program: p.Name, Err: fmt.Errorf("reading stored object: %w", err)}
		}
		p.Object = obj
		s.Programs = append(s.Programs, p)
	}
	return s, nil
}

// Update changes the chain: under the interface's lock it re-reads the
// pins, lets fn edit the current Spec, and applies the result. Changes by
// other processes are never lost. It reports whether the chain changed: a
// result that would rebuild the running generation swaps nothing and
// reports false. If fn or the apply fails, the running chain is untouched;
// when the apply of the first change to a root Attach created fails, the
// root is removed again.
//
// For a compare-and-swap, fn compares Spec.Revision with the revision it
// expects and returns an error when they differ.
func (r *Root) Update(fn func(*Spec) error) (changed bool, err error) {
	detached := func() error {
		// Another process detached the root between Attach (or Open) and
		// this change: nothing was changed.
		return fmt.Errorf("%w: %q was detached while loading; nothing was changed (attach again to start a new root)", ErrNotAttached, r.ifname)
	}
	lock, err := lockDir(r.pins.bpf, false)
	if errors.Is(err, fs.ErrNotExist) {
		return false, detached()
	}
	if err != nil {
		return false, err
	}
	defer lock.Unlock()
	if err := r.reload(); err != nil {
		if errors.Is(err, ErrNotAttached) {
			r.pins.removeEmptyDirs() // under the lock, as detach does
			return false, detached()
		}
		return false, err
	}
	s, err := r.Spec()
	if err != nil {
		return false, err
	}
	if err := fn(&s); err != nil {
		return false, err
	}
	changed, err = r.apply(s)
	return changed, r.settleCreated(err, lock) // a failed first apply detaches a root Attach created
}

// Apply replaces the interface's chain with s. It is transactional: it
// builds a new dispatcher generation and swaps it in atomically; on any
// failure the running chain is untouched and the error (a *ProgramError
// where one program is to blame) says why.
func (r *Root) Apply(s Spec) error {
	_, err := r.Update(func(cur *Spec) error {
		*cur = s
		return nil
	})
	return err
}

// apply builds, swaps and commits a generation, and reports whether it
// did (false: s would rebuild the running one). Call with the lock held.
func (r *Root) apply(s Spec) (changed bool, err error) {
	leases, err := r.pins.liveLeases()
	if err != nil {
		return false, err
	}
	p, err := planChange(r.st, s, leases)
	if err != nil || p.unchanged {
		return false, err
	}
	changed, err = r.execute(p)
	return changed && !p.observeOnly, err
}

// change is what applying a Spec to the committed state means, decided
// before anything is loaded, created or written (planChange): the chain in
// slot order, the mechanism and why, whether anything changes at all, each
// program's counter row and what it had before, and whether the root may
// declare frags.
type change struct {
	spec      Spec
	chain     Chain
	kind      Mechanism
	reason    string
	unchanged bool
	counters  map[string]uint32
	prev      map[string]programState
	frags     bool
	leases    []lease // the live observers (observe.go)
	// observeOnly: only the observers change; the chain's revision stays.
	observeOnly bool
}

// planChange decides what applying s to the committed state st means. It
// is pure: it reads nothing but its arguments and changes nothing.
func planChange(st *state, s Spec, leases []lease) (*change, error) {
	if s.Fallthrough == Aborted {
		// Spec's zero value, the default: aborted itself is never a
		// fall-through verdict (CheckFallthrough).
		s.Fallthrough = Pass
	}
	if err := CheckFallthrough(s.Fallthrough); err != nil {
		return nil, err
	}
	if err := s.Programs.Validate(); err != nil {
		return nil, err
	}
	c := &change{spec: s, chain: s.Programs.Sorted(), prev: map[string]programState{}, frags: true, leases: leases}
	c.kind, c.reason = ResolveMechanism(s.Mechanism, st.Mechanism)
	if c.kind == st.Mechanism && st.Reason != "" {
		c.reason = st.Reason // keep why the root got it (e.g. auto's probe)
	}
	if unchanged(st, c.chain, s, c.kind) {
		c.observeOnly = true
		if sameLeases(st.Observe, leases) {
			c.unchanged = true
			return c, nil
		}
	}
	for _, ps := range st.Programs {
		c.prev[ps.Name] = ps
	}
	c.counters = assignCounters(c.chain, st.Programs)
	for _, p := range c.chain {
		if !p.Frags {
			c.frags = false
		}
	}
	return c, nil
}

// execute carries a change out: it prepares every slot and builds the
// generation (buildGeneration), describes the state it makes (nextState),
// swaps it in (swapIn) and commits (commitGeneration), or leaves the
// running chain as it was.
func (r *Root) execute(c *change) (changed bool, err error) {
	g, err := r.newGeneration(c)
	if err != nil {
		return false, err
	}
	committed := false
	defer func() {
		if !committed {
			g.discard()
			r.pins.cleanupAlone(r.st) // the references this change took
		}
	}()
	if err := r.buildGeneration(g, c); err != nil {
		return false, err
	}
	defer func() {
		if !committed {
			g.mech.abort(g)
		}
	}()
	next, err := r.nextState(g, c)
	if err != nil {
		return false, err
	}
	r.crashPoint(CrashBuilt)
	if err := r.swapIn(g, next); err != nil {
		return false, err
	}

	// The new generation runs. From here on, failures are reported but the
	// chain is the new one.
	committed = true
	defer g.close()
	r.crashPoint(CrashSwapped)
	return true, r.commitGeneration(g, next)
}

// newGeneration is the generation c builds, with the mechanism it asks
// for; nothing is loaded yet.
func (r *Root) newGeneration(c *change) (*generation, error) {
	mech, err := newMechanism(c.kind)
	if err != nil {
		return nil, err
	}
	g := &generation{
		number:        r.st.Generation + 1,
		pins:          r.pins,
		fallthrough_:  c.spec.Fallthrough,
		counters:      !c.spec.NoCounters,
		ftColumn:      nextFallthroughColumn(r.st),
		frags:         c.frags,
		stats:         r.stats,
		countersPin:   r.st.Counters,
		verifierLogs:  r.opts.VerifierLogs,
		mech:          mech,
		referenceRoot: r.opts.ReferenceRoot,
		replacePins:   map[string]*ebpf.Map{},
		readOnly:      map[string]*ebpf.Map{},
	}
	if err := r.growCounters(g, c); err != nil {
		g.discard()
		return nil, err
	}
	return g, nil
}

// growCounters gives g a new counters map when c's rows (assignCounters)
// do not fit the running one (or g runs the C root, which indexes all
// maxCounters+1 rows): of counterRowsForChain the chain's length, pinned under
// a name of g's own (counters-<generation>, state.Counters) before g is
// swapped in, so that the state naming it never names a missing pin. The
// rows start from 1 there. The running generation's counts stay in its
// map, which its state (as the new state's Retired) names until they are
// folded (nextState): counts stay exact across the change. Maps only
// grow: a map made by an earlier release (all rows) never is replaced.
func (r *Root) growCounters(g *generation, c *change) error {
	need := uint32(1)
	for _, row := range c.counters {
		need = max(need, row+1)
	}
	rows := counterRowsForChain(len(c.chain))
	if g.referenceRoot {
		need, rows = maxCounters+1, maxCounters+1
	}
	if need <= counterCapacity(r.stats) {
		return nil
	}
	m, err := newStatsMap(rows)
	if err != nil {
		return err
	}
	g.stats, g.ownStats = m, true
	g.countersPin = fmt.Sprintf("counters-%d", g.number)
	path := r.pins.counters(g.countersPin)
	os.Remove(path) // a crashed attempt's, never committed
	if err := m.Pin(path); err != nil {
		return fmt.Errorf("pinning counters: %w", err)
	}
	g.newPins = append(g.newPins, path)
	c.counters = assignCounters(c.chain, nil)
	return nil
}

// buildGeneration opens g's observers, prepares every slot of c's chain,
// places them and emits the root, and has g's mechanism load it (g.prog).
// When the verifier refuses an inlined chain, it falls back to calling
// every slot (fallBackToCalls).
func (r *Root) buildGeneration(g *generation, c *change) (err error) {
	if g.obs, err = r.pins.openObserving(c.leases); err != nil {
		return err
	}
	for _, p := range c.chain {
		old, had := c.prev[p.Name]
		sl, err := r.prepareSlot(g, p, old, had, true)
		if err != nil {
			return err
		}
		sl.counter = c.counters[p.Name]
		g.slots = append(g.slots, sl)
		if sl.dev != nil {
			if r.st.Mode == ModeSKB {
				return &ProgramError{Program: p.Name, Err: errBoundGeneric}
			}
			g.dev = sl.dev // one bound program binds the chain
		}
	}
	if err := g.prepareRoot(); err != nil {
		return err
	}
	r.crashPoint(CrashPrepared)
	g.prog, err = g.mech.build(g)
	if refused := (*inlineRefusedError)(nil); errors.As(err, &refused) {
		g.prog, err = fallBackToCalls(g, refused)
	}
	return err
}

// nextState is the state that commits g: its programs, their counter rows
// and baselines, and the counts of the generation it retires.
func (r *Root) nextState(g *generation, c *change) (*state, error) {
	// The new generation counts into rows and a fall-through column the
	// running one does not use (assignCounters, nextFallthroughColumn);
	// the one before the running one used them last, and is final once no
	// CPU runs it: fold its counts into the programs' totals, and take the
	// rows' content as the new generation's baselines.
	if err := synchronizeRCU(); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return nil, err
	}
	rows, err := counterRows(r.stats)
	if err != nil {
		return nil, err
	}
	var retired map[string]Stats
	ftTotal := r.st.FallthroughTotal
	if r.st.Retired != nil {
		retiredRows, err := r.pins.retiredRows(r.st, rows)
		if err != nil {
			return nil, err
		}
		var ft uint64
		retired, ft = generationCounts(r.st.Retired.counting(), retiredRows)
		ftTotal += ft
		if r.st.Retired.Counters != r.st.Counters {
			// Its map goes with it (no state names it any more): so do
			// the fall-through counts of its row 0 (legacyFallthrough).
			ftTotal += legacyFallthrough(retiredRows)
		}
	}
	if g.ownStats {
		// g counts into a new map: its baselines are that map's.
		if rows, err = counterRows(g.stats); err != nil {
			return nil, err
		}
	}

	id := r.st.rootIdentity
	id.Interface, id.Ifindex = r.ifname, r.ifindex
	next := newState(id, c.kind, c.reason, c.spec.Fallthrough)
	next.NoCounters = c.spec.NoCounters
	next.Generation = g.number
	next.Observe = c.leases
	next.ProfileOneCopy = g.obs.oneCopy()
	next.Counting = countingOnce
	next.FallthroughColumn = g.ftColumn
	next.FallthroughBase = rowOf(rows, 0)[g.ftColumn]
	next.FallthroughTotal = ftTotal
	next.Counters = g.countersPin
	next.Retired = r.st.retire()
	rev := r.st.revision()
	if !c.observeOnly {
		rev++
	}
	next.Revision = &rev
	next.DispatcherID, err = programID(g.prog)
	if err != nil {
		return nil, err
	}
	for _, sl := range g.slots {
		p := sl.Program
		p.Object = nil
		row := rowOf(rows, sl.counter)
		var total Stats
		if old, had := c.prev[sl.Name]; had {
			total = old.Total.plus(retired[sl.Name]) // counts follow the program
		}
		next.Programs = append(next.Programs, programState{programRecord: recordOf(p), Object: sl.hash, Counter: sl.counter, Base: row.stats(), EmptyBase: row[colEmpty], Total: total, ProgramID: sl.programID, Alone: sl.kept.digest, AloneID: sl.kept.id, Stack: sl.frames, Placement: sl.placed, CallReason: sl.callReason, XSKMap: xskMapOf(sl.cs), DeviceBound: sl.dev != nil})
	}
	return next, nil
}

// swapIn writes next as the pending state and swaps g's dispatcher in.
func (r *Root) swapIn(g *generation, next *state) error {
	if err := writeState(r.pins.pendingFile(), next); err != nil {
		return fmt.Errorf("writing pending state: %w", err)
	}
	r.crashPoint(CrashPending)
	err := r.swap(g.prog)
	if err == nil {
		return nil
	}
	os.Remove(r.pins.pendingFile())
	if errors.Is(err, unix.ERANGE) && !g.frags {
		var plain []string
		for _, sl := range g.slots {
			if !sl.Frags {
				plain = append(plain, sl.Name)
			}
		}
		return fmt.Errorf("%w: the interface's MTU needs multi-buffer (frags) XDP programs and %v are not frags-aware (built for SEC(\"xdp.frags\")): %w", ErrInvalid, plain, err)
	}
	return err
}

// commitGeneration commits g, swapped in, with its state next: the state
// file, the pins of its maps, its mechanism's pins, and the removal of
// what no committed program uses.
func (r *Root) commitGeneration(g *generation, next *state) error {
	var errs []error
	if err := os.Rename(r.pins.pendingFile(), r.pins.stateFile()); err != nil {
		errs = append(errs, fmt.Errorf("committing state: %w", err))
	}
	r.crashPoint(CrashCommitted)
	for path, m := range g.replacePins {
		errs = append(errs, replacePin(path, m.Pin))
	}
	errs = append(errs, g.mech.commit(g))
	r.crashPoint(CrashMechanismCommitted)
	if r.st.Mechanism != next.Mechanism {
		// Nothing of the old mechanism serves the new generation: all of
		// its pins go (freplace's programs and links would otherwise hold
		// the old dispatcher in the kernel).
		if oldMech, err := newMechanism(r.st.Mechanism); err == nil {
			oldMech.cleanup(r.pins, &state{})
		}
	}
	if g.ownStats {
		r.stats.Close()
		r.stats, g.ownStats = g.stats, false
	}
	r.st = next
	r.cleanupLeftovers() // the new mechanism's leftovers, once
	r.crashPoint(CrashDone)
	return errors.Join(errs...)
}

// swap replaces the running dispatcher with prog, failing with
// ErrConcurrentUpdate unless the running one is the one in the state.
func (r *Root) swap(prog *ebpf.Program) error {
	old, err := ebpf.NewProgramFromID(ebpf.ProgramID(r.st.DispatcherID))
	if err != nil {
		return fmt.Errorf("%w: opening running dispatcher %d: %w", ErrConcurrentUpdate, r.st.DispatcherID, err)
	}
	defer old.Close()
	rl, ok := r.link.(interface {
		UpdateArgs(link.RawLinkUpdateOptions) error
	})
	if !ok {
		return fmt.Errorf("root link %T cannot be updated", r.link)
	}
	err = rl.UpdateArgs(link.RawLinkUpdateOptions{New: prog, Old: old, Flags: unix.BPF_F_REPLACE})
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: %w", ErrConcurrentUpdate, err)
	}
	if errors.Is(err, unix.EINVAL) {
		// The kernel keeps a link's program type and expected attach
		// type (Linux 6.18 checks it): the running dispatcher was loaded
		// by something else (another release, another tool) with another.
		return fmt.Errorf("%w: the kernel refused to swap the dispatcher of %q (EINVAL): an XDP link keeps the expected attach type of the program it was made with, and the running dispatcher (program %d) was loaded with another one than this build's (BPF_XDP), by another xdpchain release or another tool; nothing changed. "+
			"Change this chain with the release that attached the root, or re-create the root with this one: %w (its programs stop filtering until the next load), then load the chain again",
			ErrInvalid, r.ifname, r.st.DispatcherID, ErrRootMustBeRecreated)
	}
	if err != nil {
		return fmt.Errorf("swapping dispatcher: %w", err)
	}
	return nil
}

// assignCounters gives every program of the new generation its counter
// row: in slot order, the lowest rows the running generation does not use,
// so that no packet of the running generation is ever counted as the new
// one's (stats.go, countingOnce). Two generations of MaxPrograms fit the
// maxCounters rows.
func assignCounters(chain Chain, running []programState) map[string]uint32 {
	out := make(map[string]uint32, len(chain))
	used := map[uint32]bool{0: true} // row 0 counts fall-through
	for _, ps := range running {
		used[ps.Counter] = true
	}
	next := uint32(1)
	for _, p := range chain {
		for used[next] {
			next++
		}
		out[p.Name] = next
		used[next] = true
	}
	return out
}

// nextFallthroughColumn returns the column of row 0 the generation after
// st's counts fall-through in: the one st's does not.
func nextFallthroughColumn(st *state) uint32 {
	if st.Counting == countingOnce && st.FallthroughColumn == colInvalid {
		return colDenied
	}
	return colInvalid
}

// prepareSlot parses a program's object, opens or creates its maps and
// associates them, and verifies a new or changed program on its own
// (verifySlot); with keep, the program verified alone is kept.
func (r *Root) prepareSlot(g *generation, p Program, old programState, had, keep bool) (_ *slot, err error) {
	wrap := func(err error) error {
		var pe *ProgramError
		if errors.As(err, &pe) {
			return err
		}
		return &ProgramError{Program: p.Name, Err: err}
	}
	cs, ps, err := objectSpec(p.Object, p.ProgramName)
	if err != nil {
		return nil, wrap(err)
	}
	if err := checkBTF(ps); err != nil {
		return nil, wrap(err)
	}
	p.ProgramName = ps.Name
	if ps.Flags&xdpFlagHasFrags != 0 {
		p.Frags = true
	}
	hash, err := r.pins.storeObject(p.Object)
	if err != nil {
		return nil, wrap(err)
	}
	sl := &slot{Program: p, hash: hash, cs: cs, license: ps.License, maps: map[string]*ebpf.Map{}}
	sl.fresh = !had || old.Object != hash
	defer func() {
		if err != nil {
			sl.close()
		}
	}()

	if err := r.openSlotMaps(g, sl, old, had); err != nil {
		return nil, wrap(err)
	}
	if ps.Name == callProgramName {
		if sl.ext, err = adoptedExtension(r.pins, p.Name); err != nil {
			return nil, err
		}
	}

	insns := append(asm.Instructions(nil), ps.Instructions...)
	if err := associateMaps(insns, sl.maps); err != nil {
		return nil, wrap(err)
	}
	sl.insns = insns
	sl.alone = aloneSpec(insns, ps)
	if callsDeviceKfuncs(insns) {
		sl.dev = &device{ifindex: r.ifindex, ns: r.ns}
		sl.dev.bind(sl.alone)
	}

	if err := r.verifySlot(sl, old, keep); err != nil {
		return nil, wrap(err)
	}
	return sl, nil
}

// openSlotMaps opens or creates the maps of sl's program (sl.maps): the
// pinned ones where they can serve, new ones pinned for this generation
// otherwise.
func (r *Root) openSlotMaps(g *generation, sl *slot, old programState, had bool) (err error) {
	dir := r.pins.progMaps(sl.Name)
	for _, name := range mapOrder(sl.cs) {
		ms := loaderMapSpec(sl.cs.Maps[name])
		if err := resolveInner(ms, sl.maps); err != nil {
			return err
		}
		path := filepath.Join(dir, pinName(name))
		var m *ebpf.Map
		if pinned, err := ebpf.LoadPinnedMap(path, nil); err == nil {
			// Keep state across generations; across a new object only
			// writable maps of the same shape are kept.
			sameObject := had && old.Object == sl.hash
			if compatiblePinned(ms, pinned) && (sameObject || !readOnlyData(name, ms)) {
				m = pinned
			} else {
				pinned.Close()
			}
		}
		roKey := sl.hash + "/" + name
		if m == nil && readOnlyData(name, ms) {
			// Programs of one object share its read-only data: one map
			// for all of them (kernel programs may use at most 64 maps).
			if shared, ok := g.readOnly[roKey]; ok {
				if m, err = shared.Clone(); err != nil {
					return err
				}
			}
		}
		if m == nil {
			m, err = ebpf.NewMap(ms)
			if err != nil {
				return fmt.Errorf("%w: creating map %q: %w", ErrLoad, name, err)
			}
			if _, statErr := os.Stat(path); statErr == nil {
				g.replacePins[path] = m
			} else {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					m.Close()
					return err
				}
				if err := m.Pin(path); err != nil {
					m.Close()
					return fmt.Errorf("pinning map %q: %w", name, err)
				}
				g.newPins = append(g.newPins, path)
			}
		}
		sl.maps[name] = m
		if readOnlyData(name, ms) {
			if _, ok := g.readOnly[roKey]; !ok {
				g.readOnly[roKey] = m
			}
		}
	}
	return nil
}

// mapOrder lists an object's maps with every map of maps after the maps
// its initial contents name (`.values = {&inner}`), so that those exist
// when it is created.
func mapOrder(cs *ebpf.CollectionSpec) []string {
	var plain, outer []string
	for name, ms := range cs.Maps {
		if ms.InnerMap != nil {
			outer = append(outer, name)
		} else {
			plain = append(plain, name)
		}
	}
	sort.Strings(plain)
	sort.Strings(outer)
	return append(plain, outer...)
}

// resolveInner replaces the map names in a map of maps' initial contents
// (as the ELF reader leaves them) with the maps created for them.
func resolveInner(ms *ebpf.MapSpec, maps map[string]*ebpf.Map) error {
	if ms.InnerMap == nil {
		return nil
	}
	for i, kv := range ms.Contents {
		name, ok := kv.Value.(string)
		if !ok {
			continue
		}
		m, ok := maps[name]
		if !ok {
			return fmt.Errorf("%w: map of maps %q holds unknown map %q", ErrLoad, ms.Name, name)
		}
		ms.Contents[i].Value = m
	}
	return nil
}

// associateMaps points every map reference of insns at its map, by the
// map's name in the program's object.
func associateMaps(insns asm.Instructions, maps map[string]*ebpf.Map) error {
	for i := range insns {
		ins := &insns[i]
		ref := ins.Reference()
		if ref == "" || ins.IsFunctionReference() {
			continue
		}
		if ins.IsKfuncCall() || !ins.OpCode.IsDWordLoad() {
			continue
		}
		m, ok := maps[ref]
		if !ok {
			return fmt.Errorf("%w: reference to unknown map or symbol %q", ErrLoad, ref)
		}
		if err := ins.AssociateMap(m); err != nil {
			return fmt.Errorf("%w: %w", ErrLoad, err)
		}
	}
	return nil
}

// ProgramMaps returns the bpffs pin paths of a program's maps, by the map's
// name in its object (".bss", "hits", ...).
func (r *Root) ProgramMaps(program string) (map[string]string, error) {
	for _, ps := range r.st.Programs {
		if ps.Name != program {
			continue
		}
		obj, err := r.pins.loadObject(ps.Object)
		if err != nil {
			return nil, &ProgramError{Program: program, Err: err}
		}
		cs, _, err := objectSpec(obj, ps.ProgramName)
		if err != nil {
			return nil, &ProgramError{Program: program, Err: err}
		}
		out := map[string]string{}
		for name := range cs.Maps {
			out[name] = filepath.Join(r.pins.progMaps(program), pinName(name))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %q on %q", ErrNotFound, program, r.ifname)
}

// loaderMapSpec is ms as the program's own loader (libbpf, cilium/ebpf)
// would create it, unpinned: the data sections (.bss, .data, .rodata) are
// BPF_F_MMAPABLE where the kernel has it, so that the pinned map is what a
// program's CollectionSpec accepts as a replacement (MapSpec.Compatible).
func loaderMapSpec(ms *ebpf.MapSpec) *ebpf.MapSpec {
	ms = ms.Copy()
	ms.Pinning = ebpf.PinNone
	if dataSection(ms.Name) && features.HaveMapFlag(features.BPF_F_MMAPABLE) == nil {
		ms.Flags |= unix.BPF_F_MMAPABLE
	}
	return ms
}

// dataSection reports whether a map is an object's global data (the
// loaders' rule: .bss, .data*, .rodata*).
func dataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata")
}

// compatiblePinned reports whether a pinned map can serve as ms. A data
// section pinned before xdpchain created them mmapable differs only in
// that flag; it is kept, so its state survives an upgrade.
func compatiblePinned(ms *ebpf.MapSpec, pinned *ebpf.Map) bool {
	if ms.Compatible(pinned) == nil {
		return true
	}
	if !dataSection(ms.Name) || ms.Flags&unix.BPF_F_MMAPABLE == 0 {
		return false
	}
	old := ms.Copy()
	old.Flags &^= unix.BPF_F_MMAPABLE
	return old.Compatible(pinned) == nil
}

// readOnlyData reports whether a map is an object's frozen, read-only data
// section (.rodata): its content is fixed by the object.
func readOnlyData(name string, ms *ebpf.MapSpec) bool {
	return ms.Flags&unix.BPF_F_RDONLY_PROG != 0 || name == ".rodata" || strings.HasPrefix(name, ".rodata.")
}

// unchanged reports whether applying chain (sorted) would rebuild exactly
// the running generation; then nothing is swapped, so a daemon that
// reconciles after a restart does not disturb traffic.
func unchanged(st *state, chain Chain, s Spec, kind Mechanism) bool {
	if st.extensionsLost {
		return false // the running root lacks extensions its state names
	}
	if s.Fallthrough != st.Fallthrough || s.NoCounters != st.NoCounters || kind != st.Mechanism || len(chain) != len(st.Programs) {
		return false
	}
	for i, p := range chain {
		old := st.Programs[i]
		sum := sha256.Sum256(p.Object)
		if hex.EncodeToString(sum[:]) != old.Object {
			return false
		}
		a, b := p, old.program()
		a.Object, b.Object = nil, nil
		if a.ProgramName == "" {
			a.ProgramName = b.ProgramName
		}
		if !a.Frags {
			a.Frags = b.Frags // derived from the (identical) object
		}
		if !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}
