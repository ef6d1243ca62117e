package corpus

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
	"github.com/xdpchain/xdpchain/plugins/sdk/sdktest"
)

// builtDir is where Build leaves the objects for the VM runs.
const builtDir = "testdata/build"

// EnvCache names the directory the corpus's packages and objects are
// cached in between runs (default defaultCache).
const EnvCache = "XDPCHAIN_CORPUS_CACHE"

const defaultCache = "/var/cache/xdpchain-corpus"

func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }

// TestManifest: the manifest lists at least 20 programs, each with its
// origin, licence and function, and covers the features the differential
// test is for.
func TestManifest(t *testing.T) {
	entries, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 20 {
		t.Errorf("%d programs in the corpus, want at least 20", len(entries))
	}
	all := ""
	for _, e := range entries {
		all += strings.Join(e.Features, ";") + ";"
	}
	for _, want := range []string{"tail calls", "noinline subprograms", "global functions", "bpf_loop callbacks", "map-in-map", "multi-buffer", "packet rewriting", "per-CPU maps"} {
		if !strings.Contains(all, want) {
			t.Errorf("no program in the corpus has %q", want)
		}
	}
}

// corpusObjects builds the corpus (on the host) or finds what the host run
// built (in the VMs, which have neither apt nor clang).
func corpusObjects(t *testing.T) ([]Entry, map[string]string) {
	t.Helper()
	entries, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if vmtest.InVM() {
		objs, err := Built(builtDir, entries)
		if err != nil {
			t.Skipf("the corpus is built by this test's host run into %s (make test runs it before the VMs): %v", builtDir, err)
		}
		return entries, objs
	}
	cache := os.Getenv(EnvCache)
	if cache == "" {
		cache = defaultCache
	}
	objs, err := Build(cache, builtDir, entries)
	if err != nil {
		t.Fatalf("building the corpus in %s: %v", cache, err)
	}
	return entries, objs
}

// position is where the program sits in a chain of pass-through programs
// (xdpchain's noop): its verdict is the chain's.
type position struct {
	name          string
	before, after bool
}

var positions = []position{{"alone", false, false}, {"first", false, true}, {"middle", true, true}, {"last", true, false}}

// outcome is what one run of one frame did.
type outcome struct {
	verdict uint32
	out     []byte
	maps    map[string]string // map name -> dump
}

// TestDifferential runs every corpus program on crafted and random frames
// alone, then in every position of a chain on every mechanism, with its
// map state restored before each frame, and compares verdict, output bytes
// and the program's map contents frame by frame. In the VMs (qemu without
// KVM) it runs the programs marked vm = true, in the middle of a chain, on
// freplace, which the host cannot run.
func TestDifferential(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	entries, objs := corpusObjects(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		ns := testutil.NewNetNSPrefix(t, "xdw-")
		pair := testutil.NewVethPair(t, ns, ns, nil)
		// No packet reaches the root but the test's: its interface is
		// down, so neither end sends (no IPv6 router solicitations or
		// MLD reports, which the chain would count in its programs'
		// maps). The frames run through BPF_PROG_TEST_RUN, which needs
		// no carrier.
		if err := ns.Do(func() error {
			l, err := netlink.LinkByName(pair.A.Name)
			if err != nil {
				return err
			}
			return netlink.LinkSetDown(l)
		}); err != nil {
			t.Fatal(err)
		}
		opts := &dispatcher.Options{NetNS: ns.Name, BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir(), Mechanism: mech}
		r, err := dispatcher.Attach(pair.A.Name, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Detach(); r.Close() })
		for _, e := range entries {
			if vmtest.InVM() && (!e.VM || mech != dispatcher.Freplace) {
				// The host ran everything on inline and linked.
				continue
			}
			t.Run(e.Name, func(t *testing.T) {
				obj, err := os.ReadFile(objs[e.Name])
				if err != nil {
					t.Fatal(err)
				}
				frames := framesFor(e)
				alone, initial := runAlone(t, e, obj, frames)
				for _, pos := range positions {
					if vmtest.InVM() && pos.name != "middle" {
						continue
					}
					t.Run(pos.name, func(t *testing.T) {
						got := runInChain(t, r, mech, e, obj, pos, frames, initial)
						compare(t, e, frames, alone, got)
					})
				}
			})
		}
		if err := r.Apply(dispatcher.Spec{Mechanism: mech}); err != nil {
			t.Error(err)
		}
	})
}

// xdpSpec is the object's collection with the entry's function and the
// programs that fill its tail-call map, all XDP (the rewritten tc programs,
// the untyped sections), maps unpinned.
func xdpSpec(t *testing.T, e Entry, obj []byte) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{e.Function: true}
	if e.TailCalls != nil {
		for _, p := range e.TailCalls.Programs {
			keep[p] = true
		}
	}
	for name, ps := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
			continue
		}
		ps.Type, ps.AttachType = ebpf.XDP, ebpf.AttachXDP
	}
	delete(spec.Maps, ".xdp_run_config")
	for _, ms := range spec.Maps {
		ms.Pinning = ebpf.PinNone
	}
	return spec
}

// fillTailCalls loads the programs of e's tail-call map against maps (the
// program's own) and puts them into it.
func fillTailCalls(t *testing.T, e Entry, obj []byte, maps map[string]*ebpf.Map) {
	t.Helper()
	if e.TailCalls == nil {
		return
	}
	spec := xdpSpec(t, e, obj)
	delete(spec.Programs, e.Function)
	// The program's own maps, whatever flags their creator gave them
	// (data maps pinned by 0.3 lack BPF_F_MMAPABLE, which cilium/ebpf
	// wants of a replacement): referenced directly.
	for _, ps := range spec.Programs {
		for i := range ps.Instructions {
			ins := &ps.Instructions[i]
			if m, ok := maps[ins.Reference()]; ok && ins.OpCode.IsDWordLoad() {
				if err := ins.AssociateMap(m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for name := range maps {
		delete(spec.Maps, name)
	}
	for name, v := range spec.Variables {
		if _, ok := maps[v.SectionName]; ok {
			delete(spec.Variables, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %s's tail-call targets: %v", e.Name, err)
	}
	t.Cleanup(func() { coll.Close() })
	for i, p := range e.TailCalls.Programs {
		if err := maps[e.TailCalls.Map].Put(uint32(i), coll.Programs[p]); err != nil {
			t.Fatalf("%s: putting %s into %s: %v", e.Name, p, e.TailCalls.Map, err)
		}
	}
}

// fillInner puts a new inner map at key 0 of every empty map of maps whose
// spec declares its inner maps, as the selftest's loader does.
func fillInner(t *testing.T, e Entry, obj []byte, maps map[string]*ebpf.Map) {
	t.Helper()
	for name, ms := range xdpSpec(t, e, obj).Maps {
		m := maps[name]
		if ms.InnerMap == nil || m == nil || len(ms.Contents) > 0 {
			continue
		}
		inner, err := ebpf.NewMap(ms.InnerMap)
		if err != nil {
			t.Fatalf("%s: inner map of %s: %v", e.Name, name, err)
		}
		err = m.Put(uint32(0), inner)
		inner.Close()
		if err != nil {
			t.Fatalf("%s: putting an inner map into %s: %v", e.Name, name, err)
		}
	}
}

// withInner adds to maps the inner maps of its maps of maps, named
// OUTER[KEY].
func withInner(t *testing.T, maps map[string]*ebpf.Map) map[string]*ebpf.Map {
	t.Helper()
	out := map[string]*ebpf.Map{}
	for name, m := range maps {
		out[name] = m
		if m.Type() != ebpf.ArrayOfMaps && m.Type() != ebpf.HashOfMaps {
			continue
		}
		key := make([]byte, m.KeySize())
		var id uint32
		it := m.Iterate()
		for it.Next(&key, &id) {
			inner, err := ebpf.NewMapFromID(ebpf.MapID(id))
			if err != nil {
				t.Fatalf("opening inner map %d of %s: %v", id, name, err)
			}
			t.Cleanup(func() { inner.Close() })
			out[fmt.Sprintf("%s[%x]", name, key)] = inner
		}
		if err := it.Err(); err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
	}
	return out
}

// runAlone loads the program on its own, as its own loader would, and runs
// every frame; it also returns the maps' content as loaded.
func runAlone(t *testing.T, e Entry, obj []byte, frames [][]byte) ([]outcome, mapState) {
	t.Helper()
	coll, err := ebpf.NewCollection(xdpSpec(t, e, obj))
	if err != nil {
		t.Fatalf("loading %s alone: %v", e.Name, err)
	}
	t.Cleanup(func() { coll.Close() })
	fillTailCalls(t, e, obj, coll.Maps)
	fillInner(t, e, obj, coll.Maps)
	for _, p := range e.Put {
		m := coll.Maps[p.Map]
		if m == nil {
			t.Fatalf("%s: put: no map %s", e.Name, p.Map)
		}
		k, _ := hex.DecodeString(p.Key)
		v, _ := hex.DecodeString(p.Value)
		if err := m.Put(k, v); err != nil {
			t.Fatalf("%s: put into %s: %v", e.Name, p.Map, err)
		}
	}
	return runFrames(t, coll.Programs[e.Function], coll.Maps, frames, nil)
}

// runInChain applies a chain holding the program at pos and runs every
// frame through the running dispatcher, the program's maps set to initial
// before each (its pinned maps carry their content over from the last
// chain).
func runInChain(t *testing.T, r *dispatcher.Root, mech dispatcher.Mechanism, e Entry, obj []byte, pos position, frames [][]byte, initial mapState) []outcome {
	t.Helper()
	p, err := dispatcher.NewProgram(e.Name, obj, e.Function)
	if err != nil {
		t.Fatal(err)
	}
	p.Priority = 50
	chain := dispatcher.Chain{p}
	neighbour := func(name string, prio int) {
		n, err := dispatcher.NewProgram(name, testprogs.Object(testprogs.Noop), "")
		if err != nil {
			t.Fatal(err)
		}
		n.Priority, n.Frags = prio, p.Frags
		chain = append(chain, n)
	}
	if pos.before {
		neighbour("before", 10)
	}
	if pos.after {
		neighbour("after", 90)
	}
	if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: chain}); err != nil {
		t.Fatalf("chain %s: %v", pos.name, err)
	}
	st, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ebpf.NewProgramFromID(ebpf.ProgramID(st.DispatcherID))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	paths, err := r.ProgramMaps(e.Name)
	if err != nil {
		t.Fatal(err)
	}
	maps := map[string]*ebpf.Map{}
	for name, path := range paths {
		m, err := ebpf.LoadPinnedMap(path, nil)
		if err != nil {
			t.Fatalf("opening %s's map %s: %v", e.Name, name, err)
		}
		defer m.Close()
		maps[name] = m
	}
	fillTailCalls(t, e, obj, maps)
	fillInner(t, e, obj, maps)
	out, _ := runFrames(t, root, maps, frames, initial)
	return out
}

// mapState is the content of a program's maps, by map name.
type mapState map[string]map[string][]byte

// runFrames runs each frame through prog with maps restored to initial
// (nil: their state before the first) before each, and returns what each
// did and the state it restored.
//
// Every run is on one CPU, the same for every program and chain, so
// per-CPU maps compare value by value on every CPU.
func runFrames(t *testing.T, prog *ebpf.Program, maps map[string]*ebpf.Map, frames [][]byte, initial mapState) ([]outcome, mapState) {
	t.Helper()
	defer onOneCPU(t)()
	maps = withInner(t, maps)
	if initial == nil {
		initial = mapState{}
		for name, m := range maps {
			if d, ok := contents(t, m); ok {
				initial[name] = d
			}
		}
	}
	var out []outcome
	// last is each map's content as read after the last frame (nothing
	// else runs the program: the interface gets no packets), so restoring
	// reads it once.
	last := mapState{}
	for _, f := range frames {
		for name, d := range initial {
			m, ok := maps[name]
			if !ok {
				t.Fatalf("no map %s", name)
			}
			restore(t, m, d, last[name])
		}
		// Room for programs that grow the frame (bpf_xdp_adjust_tail).
		ro := &ebpf.RunOptions{Data: f, DataOut: make([]byte, len(f)+4096)}
		ret, err := prog.Run(ro)
		if err != nil {
			t.Fatalf("running a %d-byte frame: %v", len(f), err)
		}
		o := outcome{verdict: ret, out: ro.DataOut, maps: map[string]string{}}
		for name := range initial {
			d, _ := contents(t, maps[name])
			o.maps[name] = dumpChanges(initial[name], d)
			last[name] = d
		}
		out = append(out, o)
	}
	return out, initial
}

// onOneCPU binds the calling goroutine's thread to the lowest CPU it may
// run on (BPF_PROG_TEST_RUN runs the program on the caller's CPU, so this
// is where per-CPU maps change) and returns the undo.
func onOneCPU(t *testing.T) func() {
	t.Helper()
	runtime.LockOSThread()
	var was, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	for cpu := 0; cpu < 8*int(unsafe.Sizeof(was)); cpu++ {
		if was.IsSet(cpu) {
			one.Set(cpu)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	return func() {
		if err := unix.SchedSetaffinity(0, &was); err != nil {
			t.Error(err)
		}
		runtime.UnlockOSThread()
	}
}

// perCPU reports whether maps of type mt hold one value per CPU.
func perCPU(mt ebpf.MapType) bool {
	switch mt {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// contents reads a map whose content is data (arrays, hashes, tries, and
// their per-CPU kinds), key -> value (a per-CPU map's values for every
// possible CPU, one after the other, each padded to 8 bytes as the kernel
// gives them); false for maps of kernel objects (programs, devices,
// sockets, maps, CPUs, events).
func contents(t *testing.T, m *ebpf.Map) (map[string][]byte, bool) {
	t.Helper()
	switch mt := m.Type(); {
	case mt == ebpf.Array, mt == ebpf.Hash, mt == ebpf.LRUHash, mt == ebpf.LPMTrie, perCPU(mt):
	default:
		return nil, false
	}
	if out, ok := contentsBatch(t, m); ok {
		return out, true
	}
	out := map[string][]byte{}
	key := make([]byte, m.KeySize())
	var val []byte
	var vals [][]byte
	it := m.Iterate()
	for {
		var ok bool
		if perCPU(m.Type()) {
			ok = it.Next(&key, &vals)
		} else {
			ok = it.Next(&key, &val)
		}
		if !ok {
			break
		}
		if perCPU(m.Type()) {
			val = val[:0]
			for _, v := range vals {
				val = append(val, v...)
				val = append(val, make([]byte, (8-len(v)%8)%8)...)
			}
		}
		out[string(key)] = append([]byte(nil), val...)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("reading map %v: %v", m, err)
	}
	return out, true
}

// contentsBatch reads m with BPF_MAP_LOOKUP_BATCH, many elements a call
// (xdp-filter's per-CPU port array has 65 536 of them, read before and
// after every frame); false where the kernel has no batch lookup for the
// map's type (tries).
func contentsBatch(t *testing.T, m *ebpf.Map) (map[string][]byte, bool) {
	t.Helper()
	const chunk = 4096
	cpus := 1
	if perCPU(m.Type()) {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			t.Fatal(err)
		}
		cpus = n
	}
	ks, vs := int(m.KeySize()), int(m.ValueSize())
	keys := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(ks, reflect.TypeFor[byte]())), chunk, chunk)
	vals := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(vs, reflect.TypeFor[byte]())), chunk*cpus, chunk*cpus)
	stride := (vs + 7) &^ 7
	out := map[string][]byte{}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, keys.Interface(), vals.Interface(), nil)
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) && len(out) == 0 && n == 0 {
			return nil, false
		}
		// The arrays lie one after the other: read them as bytes.
		kb := unsafe.Slice((*byte)(keys.UnsafePointer()), chunk*ks)
		vb := unsafe.Slice((*byte)(vals.UnsafePointer()), chunk*cpus*vs)
		for i := range n {
			val := make([]byte, 0, cpus*stride)
			for c := range cpus {
				val = append(val, vb[(i*cpus+c)*vs:(i*cpus+c+1)*vs]...)
				if perCPU(m.Type()) {
					val = append(val, make([]byte, stride-vs)...)
				}
			}
			out[string(kb[i*ks:(i+1)*ks])] = val
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, true
		}
		if err != nil {
			t.Fatalf("reading map %v: %v", m, err)
		}
	}
}

// restore writes d back into m and removes keys d does not have (a
// read-only map is left as it is: nothing can change it); it writes only
// what differs.
//
// cur is m's content if known (nil: it is read).
func restore(t *testing.T, m *ebpf.Map, d, cur map[string][]byte) {
	t.Helper()
	info, err := m.Info()
	if err == nil && info.Flags&(1<<7) != 0 { // BPF_F_RDONLY_PROG
		return
	}
	if cur == nil {
		cur, _ = contents(t, m)
	}
	for k := range cur {
		if _, ok := d[k]; !ok && m.Type() != ebpf.Array {
			if err := m.Delete([]byte(k)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				t.Fatalf("restoring map %v: %v", m, err)
			}
		}
	}
	for k, v := range d {
		if c, ok := cur[k]; ok && bytes.Equal(c, v) {
			continue
		}
		var val any = v
		if perCPU(m.Type()) {
			// Back into one value per CPU.
			stride := (int(m.ValueSize()) + 7) &^ 7
			var vals [][]byte
			for off := 0; off+stride <= len(v); off += stride {
				vals = append(vals, v[off:off+int(m.ValueSize())])
			}
			val = vals
		}
		if err := m.Put([]byte(k), val); err != nil {
			t.Fatalf("restoring map %v: %v", m, err)
		}
	}
}

// dumpChanges prints what d, a map's content after a run, changed of was,
// its content before: the runs compared all start from the same content,
// so their changes are equal exactly when their contents are.
func dumpChanges(was, d map[string][]byte) string {
	keys := make([]string, 0, len(d))
	for k, v := range d {
		if w, ok := was[k]; !ok || !bytes.Equal(w, v) {
			keys = append(keys, k)
		}
	}
	for k := range was {
		if _, ok := d[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if v, ok := d[k]; ok {
			fmt.Fprintf(&b, "%x=%x ", k, v)
		} else {
			fmt.Fprintf(&b, "%x deleted ", k)
		}
	}
	return b.String()
}

// compare reports the frames whose outcome differs, except in the
// entry's unstable bytes of the output.
func compare(t *testing.T, e Entry, frames [][]byte, want, got []outcome) {
	t.Helper()
	bad := 0
	for i := range frames {
		w, g := want[i], got[i]
		var diff []string
		if w.verdict != g.verdict {
			diff = append(diff, fmt.Sprintf("verdict %d, alone %d", g.verdict, w.verdict))
		}
		if !bytes.Equal(stable(e, w.out), stable(e, g.out)) {
			diff = append(diff, fmt.Sprintf("output %d bytes, alone %d bytes (differ at %d)", len(g.out), len(w.out), firstDiff(w.out, g.out)))
		}
		for name, wd := range w.maps {
			if g.maps[name] != wd {
				diff = append(diff, fmt.Sprintf("map %s: %s, alone %s", name, short(g.maps[name]), short(wd)))
			}
		}
		if len(g.maps) != len(w.maps) {
			diff = append(diff, fmt.Sprintf("maps %d, alone %d", len(g.maps), len(w.maps)))
		}
		if len(diff) > 0 {
			bad++
			if bad <= 3 {
				t.Errorf("frame %d (%d bytes, %x...): %s", i, len(frames[i]), frames[i][:min(len(frames[i]), 40)], strings.Join(diff, "; "))
			}
		}
	}
	if bad > 3 {
		t.Errorf("%d of %d frames differ", bad, len(frames))
	}
}

// stable returns out with e's unstable bytes zeroed.
func stable(e Entry, out []byte) []byte {
	if len(e.Unstable) == 0 {
		return out
	}
	out = bytes.Clone(out)
	for _, r := range e.Unstable {
		if r.Offset < len(out) {
			clear(out[r.Offset:min(len(out), r.Offset+r.Size)])
		}
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// framesFor returns the crafted frames, then random ones seeded by the
// program's name (the same frames on every run and every mechanism); a
// multi-buffer program also gets frames larger than a page.
func framesFor(e Entry) [][]byte {
	src4, dst4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	src6, dst6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	udp4 := testutil.UDPPacket(netip.AddrPortFrom(src4, 1000), netip.AddrPortFrom(dst4, 53), []byte("corpus udp"))
	frames := [][]byte{
		udp4,
		testutil.UDPPacket(netip.AddrPortFrom(src6, 1000), netip.AddrPortFrom(dst6, 4789), []byte("corpus udp6")),
		testutil.ICMPEchoPacket(src4, dst4, 7, 1, []byte("ping")),
		testutil.ICMPEchoPacket(src6, dst6, 7, 1, []byte("ping6")),
		tcpSYN(udp4),
		// SYNs with options (MSS, SACK permitted, window scale) and
		// valid checksums, an ACK: what a SYN proxy parses.
		sdktest.TCP(netip.AddrPortFrom(src4, 1000), netip.AddrPortFrom(dst4, 53), sdktest.TCPHeader{Seq: 1, Flags: sdktest.SYN, Options: synOptions}, nil),
		sdktest.TCP(netip.AddrPortFrom(src6, 1000), netip.AddrPortFrom(dst6, 53), sdktest.TCPHeader{Seq: 1, Flags: sdktest.SYN, Options: synOptions}, nil),
		sdktest.TCP(netip.AddrPortFrom(src4, 1000), netip.AddrPortFrom(dst4, 53), sdktest.TCPHeader{Seq: 2, Ack: 7, Flags: sdktest.ACK}, nil),
		vlan(udp4, 0x8100, 4011),
		vlan(vlan(udp4, 0x8100, 4011), 0x88a8, 100),
		arp(),
		udp4[:14], // an Ethernet header alone
		testutil.UDPPacket(netip.AddrPortFrom(src4, 1000), netip.AddrPortFrom(dst4, 9), bytes.Repeat([]byte{0xab}, 1400)),
	}
	h := fnv.New64a()
	h.Write([]byte(e.Name))
	rnd := rand.New(rand.NewSource(int64(h.Sum64())))
	for i := range 16 {
		n := 14 + rnd.Intn(1500)
		f := make([]byte, n)
		rnd.Read(f)
		if i%2 == 0 && n > len(udp4) {
			copy(f, udp4[:34]) // an IPv4 header, random beyond
		}
		frames = append(frames, f)
	}
	if e.Frags {
		big := testutil.UDPPacket(netip.AddrPortFrom(src4, 1000), netip.AddrPortFrom(dst4, 9), bytes.Repeat([]byte{0xcd}, 8000))
		frames = append(frames, big, big[:5000])
	}
	return frames
}

// synOptions are a SYN's TCP options: MSS 1460, SACK permitted, NOP,
// window scale 7.
var synOptions = []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7}

// tcpSYN turns an IPv4 UDP frame into a TCP SYN of the same addresses.
func tcpSYN(udp4 []byte) []byte {
	f := append([]byte(nil), udp4[:34]...)
	f[23] = 6 // protocol
	tcp := make([]byte, 20)
	copy(tcp, udp4[34:38]) // ports
	tcp[12] = 5 << 4
	tcp[13] = 0x02 // SYN
	f = append(f, tcp...)
	binary.BigEndian.PutUint16(f[16:18], uint16(len(f)-14))
	return f
}

// vlan inserts a tag (tpid, vid) after the MAC addresses.
func vlan(f []byte, tpid, vid uint16) []byte {
	out := append([]byte(nil), f[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, vid)
	return append(out, f[12:]...)
}

// arp is an ARP request.
func arp() []byte {
	f := make([]byte, 42)
	copy(f, bytes.Repeat([]byte{0xff}, 6))
	copy(f[6:], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	copy(f[14:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	return f
}
