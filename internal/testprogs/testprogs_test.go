package testprogs_test

import (
	"bytes"
	"embed"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }

const (
	aborted  = 0
	drop     = 1
	pass     = 2
	tx       = 3
	redirect = 4
)

var (
	v4src = netip.MustParseAddrPort("192.0.2.1:40000")
	v4dst = netip.MustParseAddrPort("198.51.100.2:9999")
	v6src = netip.MustParseAddrPort("[2001:db8::1]:40000")
	v6dst = netip.MustParseAddrPort("[2001:db8::2]:9999")
)

// load loads one program of a test object as a plain XDP program, with
// its maps.
func load(t *testing.T, spec *ebpf.CollectionSpec, program string) (*ebpf.Collection, *ebpf.Program) {
	t.Helper()
	testutil.RequireRoot(t)
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %s: %v", program, err)
	}
	t.Cleanup(func() { coll.Close() })
	prog := coll.Programs[program]
	if prog == nil {
		t.Fatalf("no program %s", program)
	}
	return coll, prog
}

func loadObject(t *testing.T, name string) (*ebpf.Collection, *ebpf.Program) {
	t.Helper()
	spec, err := testprogs.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	return load(t, spec, testprogs.Program(name))
}

func packets() map[string][]byte {
	return map[string][]byte{
		"udp4":  testutil.UDPPacket(v4src, v4dst, []byte("payload")),
		"udp6":  testutil.UDPPacket(v6src, v6dst, []byte("payload")),
		"icmp4": testutil.ICMPEchoPacket(v4src.Addr(), v4dst.Addr(), 1, 1, nil),
		"icmp6": testutil.ICMPEchoPacket(v6src.Addr(), v6dst.Addr(), 1, 1, nil),
	}
}

//go:embed *_bpfel.o
var generated embed.FS

func TestObjects(t *testing.T) {
	names := testprogs.Names()
	// Every generated object is registered, and nothing else (the
	// objects are embedded here too, so that this holds where the test
	// binary runs without its sources, as in the VMs).
	files, err := fs.Glob(generated, "*_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(f, "_bpfel.o"))
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("objects %v, want one per *_bpfel.o: %v", names, want)
	}
	for _, name := range names {
		spec, err := testprogs.Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		prog := spec.Programs[testprogs.Program(name)]
		if prog == nil {
			t.Errorf("%s: no program %s", name, testprogs.Program(name))
			continue
		}
		want := ebpf.XDP
		if name == testprogs.Untyped || name == testprogs.UntypedOne {
			want = ebpf.UnspecifiedProgram // its section names no type
		}
		if prog.Type != want {
			t.Errorf("%s: program type %v, want %v", name, prog.Type, want)
		}
		// Object hands out copies.
		b := testprogs.Object(name)
		b[0] ^= 0xff
		if bytes.Equal(b, testprogs.Object(name)) {
			t.Errorf("%s: Object returns shared bytes", name)
		}
	}
	mustPanic(t, func() { testprogs.Object("nope") })
	mustPanic(t, func() { testprogs.Verdict(5) })
	mustPanic(t, func() { testprogs.Monolithic(2, false) })
}

func mustPanic(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	fn()
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path, err := testprogs.WriteFile(dir, testprogs.DropPort)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, testprogs.Object(testprogs.DropPort)) || !strings.HasSuffix(path, "/dropport.o") {
		t.Fatalf("%s: wrong contents", path)
	}
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil || spec.Programs["dropport"] == nil {
		t.Fatalf("written object does not parse: %v", err)
	}
}

func TestVerdicts(t *testing.T) {
	for _, v := range []uint32{aborted, drop, pass, tx, redirect, testprogs.InvalidVerdict} {
		name := testprogs.Verdict(v)
		t.Run(name, func(t *testing.T) {
			spec, err := testprogs.Spec(name)
			if err != nil {
				t.Fatal(err)
			}
			// The verdict is a .rodata constant.
			var got uint32
			if err := spec.Variables["verdict"].Get(&got); err != nil || got != v {
				t.Fatalf("verdict variable: %d, %v", got, err)
			}
			_, prog := load(t, spec, "xdp_verdict")
			for pname, pkt := range packets() {
				if ret, _ := testutil.RunXDP(t, prog, pkt); ret != v {
					t.Errorf("%s: verdict %d, want %d", pname, ret, v)
				}
			}
		})
	}
}

func TestNoop(t *testing.T) {
	_, prog := loadObject(t, testprogs.Noop)
	for pname, pkt := range packets() {
		if ret, out := testutil.RunXDP(t, prog, pkt); ret != pass || !bytes.Equal(out, pkt) {
			t.Errorf("%s: verdict %d (packet changed: %v)", pname, ret, !bytes.Equal(out, pkt))
		}
	}
}

func TestCounter(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		t.Fatal(err)
	}
	// The count goes through a static subprogram.
	if n := countCalls(spec.Programs["counter"].Instructions); n != 1 {
		t.Errorf("counter makes %d BPF-to-BPF calls, want 1", n)
	}
	for _, m := range []string{"hits", ".bss", ".data"} {
		if spec.Maps[m] == nil {
			t.Errorf("no map %s", m)
		}
	}
	coll, prog := load(t, spec, "counter")
	const runs = 5
	for i := range runs {
		if ret, _ := testutil.RunXDP(t, prog, packets()["udp4"]); ret != pass {
			t.Fatalf("run %d: verdict %d", i, ret)
		}
	}
	var packetsSeen, hits uint64
	if err := coll.Variables["packets"].Get(&packetsSeen); err != nil {
		t.Fatal(err)
	}
	if err := coll.Maps["hits"].Lookup(uint32(0), &hits); err != nil {
		t.Fatal(err)
	}
	if packetsSeen != runs || hits != runs {
		t.Fatalf("packets %d, hits %d, want %d", packetsSeen, hits, runs)
	}

	// step (.data) is what packets grows by.
	if err := coll.Variables["step"].Set(uint64(10)); err != nil {
		t.Fatal(err)
	}
	testutil.RunXDP(t, prog, packets()["udp4"])
	if err := coll.Variables["packets"].Get(&packetsSeen); err != nil {
		t.Fatal(err)
	}
	if packetsSeen != runs+10 {
		t.Fatalf("packets %d after a step of 10, want %d", packetsSeen, runs+10)
	}
}

func countCalls(insns asm.Instructions) int {
	n := 0
	for _, ins := range insns {
		if ins.IsFunctionCall() {
			n++
		}
	}
	return n
}

func TestDropPort(t *testing.T) {
	_, prog := loadObject(t, testprogs.DropPort)
	other := func(ap netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(ap.Addr(), 9998) }
	short := testutil.UDPPacket(v4src, v4dst, nil)[:14+20+4] // UDP header cut short
	for _, c := range []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"udp4 to port", testutil.UDPPacket(v4src, v4dst, []byte("x")), drop},
		{"udp6 to port", testutil.UDPPacket(v6src, v6dst, []byte("x")), drop},
		{"udp4 to other port", testutil.UDPPacket(v4src, other(v4dst), []byte("x")), pass},
		{"udp6 to other port", testutil.UDPPacket(v6src, other(v6dst), []byte("x")), pass},
		{"udp4 from port", testutil.UDPPacket(netip.AddrPortFrom(v4src.Addr(), 9999), other(v4dst), nil), pass},
		{"icmp4", testutil.ICMPEchoPacket(v4src.Addr(), v4dst.Addr(), 9999, 9999, nil), pass},
		{"icmp6", testutil.ICMPEchoPacket(v6src.Addr(), v6dst.Addr(), 9999, 9999, nil), pass},
		{"truncated udp4", short, pass},
		{"ethernet only", make([]byte, 14), pass},
	} {
		if ret, _ := testutil.RunXDP(t, prog, c.pkt); ret != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, ret, c.want)
		}
	}

	// The port is a .rodata constant a loader may set.
	spec, err := testprogs.Spec(testprogs.DropPort)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["port"].Set(uint16(53)); err != nil {
		t.Fatal(err)
	}
	_, prog53 := load(t, spec, "dropport")
	if ret, _ := testutil.RunXDP(t, prog53, testutil.UDPPacket(v4src, netip.AddrPortFrom(v4dst.Addr(), 53), nil)); ret != drop {
		t.Errorf("port 53: verdict %d, want drop", ret)
	}
	if ret, _ := testutil.RunXDP(t, prog53, testutil.UDPPacket(v4src, v4dst, nil)); ret != pass {
		t.Errorf("port 9999 with port set to 53: verdict %d, want pass", ret)
	}
}

// runConfig decodes libxdp's XDP_RUN_CONFIG(fn) metadata from an object's
// BTF: a struct whose members are pointers to arrays, the array length
// being the value.
func runConfig(t *testing.T, name, fn string) map[string]uint32 {
	t.Helper()
	spec, err := testprogs.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	var v *btf.Var
	if err := spec.Types.TypeByName("_"+fn, &v); err != nil {
		t.Fatalf("%s: no XDP_RUN_CONFIG(%s): %v", name, fn, err)
	}
	st, ok := btf.UnderlyingType(v.Type).(*btf.Struct)
	if !ok {
		t.Fatalf("%s: run config is a %v", name, v.Type)
	}
	out := map[string]uint32{}
	for _, m := range st.Members {
		ptr, ok := m.Type.(*btf.Pointer)
		if !ok {
			t.Fatalf("member %s is a %v", m.Name, m.Type)
		}
		arr, ok := ptr.Target.(*btf.Array)
		if !ok {
			t.Fatalf("member %s points to a %v", m.Name, ptr.Target)
		}
		out[m.Name] = arr.Nelems
	}
	return out
}

func TestRunConfig(t *testing.T) {
	for _, c := range []struct {
		name, fn string
		want     map[string]uint32
	}{
		{testprogs.DropPort, "dropport", map[string]uint32{"priority": testprogs.DropPortPriority, "XDP_PASS": 1}},
		{testprogs.RunConfig, "runconfig", map[string]uint32{"priority": testprogs.RunConfigPriority, "XDP_PASS": 1, "XDP_DROP": 1}},
	} {
		got := runConfig(t, c.name, c.fn)
		if len(got) != len(c.want) {
			t.Errorf("%s: run config %v, want %v", c.name, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: run config %v, want %v", c.name, got, c.want)
			}
		}
	}
	_, prog := loadObject(t, testprogs.RunConfig)
	if ret, _ := testutil.RunXDP(t, prog, packets()["udp4"]); ret != pass {
		t.Errorf("runconfig: verdict %d", ret)
	}
	// Objects without metadata have none.
	spec, err := testprogs.Spec(testprogs.Noop)
	if err != nil {
		t.Fatal(err)
	}
	var v *btf.Var
	if err := spec.Types.TypeByName("_noop", &v); !errors.Is(err, btf.ErrNotFound) {
		t.Errorf("noop has run config: %v", err)
	}
}

func TestAdjust(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Adjust)
	if err != nil {
		t.Fatal(err)
	}
	helpers := map[asm.BuiltinFunc]bool{}
	for _, ins := range spec.Programs["adjust"].Instructions {
		if ins.IsBuiltinCall() {
			helpers[asm.BuiltinFunc(ins.Constant)] = true
		}
	}
	if !helpers[asm.FnXdpAdjustHead] || !helpers[asm.FnXdpAdjustTail] {
		t.Fatalf("adjust calls %v", helpers)
	}
	_, prog := load(t, spec, "adjust")
	for pname, pkt := range packets() {
		ret, out := testutil.RunXDP(t, prog, pkt)
		if ret != pass || !bytes.Equal(out, pkt) {
			t.Errorf("%s: verdict %d, packet unchanged %v", pname, ret, bytes.Equal(out, pkt))
		}
	}
}

func TestBad(t *testing.T) {
	testutil.RequireRoot(t)
	spec, err := testprogs.Spec(testprogs.Bad)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgram(spec.Programs["bad"])
	if err == nil {
		prog.Close()
		t.Fatal("the verifier accepted bad")
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		t.Fatalf("not a verifier error: %v", err)
	}
	if log := strings.Join(ve.Log, "\n"); !strings.Contains(log, "invalid access to packet") {
		t.Fatalf("verifier log does not say why:\n%s", log)
	}
}

func TestMulti(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Multi)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Programs) != 2 {
		t.Fatalf("programs: %v", spec.Programs)
	}
	coll, _ := load(t, spec, "first")
	for name, want := range map[string]uint32{"first": pass, "second": drop} {
		if ret, _ := testutil.RunXDP(t, coll.Programs[name], packets()["udp4"]); ret != want {
			t.Errorf("%s: verdict %d, want %d", name, ret, want)
		}
	}
}

func TestUDP(t *testing.T) {
	_, prog := loadObject(t, testprogs.UDP)
	dropped := netip.AddrPortFrom(v4dst.Addr(), testprogs.UDPDropPort)
	for name, tc := range map[string]struct {
		pkt  []byte
		want uint32
	}{
		"udp4 to 9999": {packets()["udp4"], pass},
		"udp4 to 4789": {testutil.UDPPacket(v4src, dropped, []byte("payload")), drop},
		"udp6":         {packets()["udp6"], pass},
		"icmp4":        {packets()["icmp4"], pass},
		"runt":         {packets()["udp4"][:20], pass},
	} {
		if ret, _ := testutil.RunXDP(t, prog, tc.pkt); ret != tc.want {
			t.Errorf("%s: verdict %d, want %d", name, ret, tc.want)
		}
	}
}

func TestMonolithic(t *testing.T) {
	for _, n := range []int{1, 4, 10, 16, 64} {
		for _, inline := range []bool{false, true} {
			for _, body := range []string{testprogs.Noop, testprogs.UDP} {
				testMonolithic(t, testprogs.MonolithicOf(body, n, inline), body, n, inline, pass)
			}
		}
	}
	mustPanic(t, func() { testprogs.MonolithicOf(testprogs.Counter, 1, false) })
}

// TestMonolithicTX checks the back-to-back programs of the real packet
// path: the inlined bodies as in the plain monolithic objects, then
// verdict_tx's body (a load of the .rodata verdict), so the packet the
// bodies pass comes out XDP_TX, and one they drop stays dropped.
func TestMonolithicTX(t *testing.T) {
	for _, n := range testprogs.MonolithicTXCounts {
		for _, body := range []string{testprogs.Noop, testprogs.UDP} {
			name := testprogs.MonolithicTX(body, n)
			testMonolithic(t, name, body, n, true, tx)
			if body != testprogs.UDP {
				continue
			}
			_, prog := loadObject(t, name)
			vxlan := testutil.UDPPacket(v4src, netip.AddrPortFrom(v4dst.Addr(), testprogs.UDPDropPort), []byte("payload"))
			if ret, _ := testutil.RunXDP(t, prog, vxlan); ret != drop {
				t.Errorf("%s: verdict %d for a datagram to port %d, want drop (the first body's)", name, ret, testprogs.UDPDropPort)
			}
		}
	}
	mustPanic(t, func() { testprogs.MonolithicTX(testprogs.Noop, 64) })
	mustPanic(t, func() { testprogs.MonolithicTX(testprogs.Counter, 10) })
}

func testMonolithic(t *testing.T, name, body string, n int, inline bool, want uint32) {
	t.Helper()
	spec, err := testprogs.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	insns := spec.Programs["monolithic"].Instructions
	calls, wantCalls := countCalls(insns), n
	if inline {
		wantCalls = 0
	}
	if calls != wantCalls {
		t.Errorf("%s: %d calls, want %d", name, calls, wantCalls)
	}
	// One proceed-on check per body survives compilation (as a
	// conditional jump on the returned verdict).
	if jumps := countCondJumps(insns); jumps < n-1 {
		t.Errorf("%s: %d conditional jumps, want at least %d", name, jumps, n-1)
	}
	// Every udp body keeps its own parse (two bounds checks, the
	// ethertype, the protocol and the port), also inlined: clang must not
	// merge them.
	if jumps := countCondJumps(insns); body == testprogs.UDP && jumps < 5*n {
		t.Errorf("%s: %d conditional jumps, want at least %d", name, jumps, 5*n)
	}
	_, prog := load(t, spec, "monolithic")
	if ret, _ := testutil.RunXDP(t, prog, packets()["udp4"]); ret != want {
		t.Errorf("%s: verdict %d, want %d", name, ret, want)
	}
}

// TestTailCall runs the programs of the tail-call object alone: the last
// passes; the others, with nothing to tail-call, abort. Each tail-calls
// the next index with a literal key.
func TestTailCall(t *testing.T) {
	for _, body := range []string{testprogs.Noop, testprogs.UDP} {
		name := testprogs.TailCallOf(body)
		spec, err := testprogs.Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := spec.Maps[testprogs.TailCallMap]; !ok {
			t.Fatalf("%s: no map %s", name, testprogs.TailCallMap)
		}
		if got, want := len(spec.Programs), testprogs.TailCallLinks+1; got != want {
			t.Errorf("%s: %d programs, want %d", name, got, want)
		}
		for i := 0; i < testprogs.TailCallLinks; i++ {
			insns := spec.Programs[testprogs.TailCallProgram(i)].Instructions
			key := int64(-1)
			for j, ins := range insns {
				if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnTailCall) && j > 0 && insns[j-1].Dst == asm.R3 && insns[j-1].OpCode.Class() == asm.ALU64Class {
					key = insns[j-1].Constant
				}
			}
			if key != int64(i+1) {
				t.Errorf("%s: %s tail-calls with key %d right before the call, want the literal %d", name, testprogs.TailCallProgram(i), key, i+1)
			}
		}
		coll, _ := load(t, spec, testprogs.Program(name))
		for prog, want := range map[string]uint32{testprogs.Program(name): aborted, testprogs.TailCallProgram(testprogs.TailCallLinks - 1): aborted, testprogs.TailCallLast: pass} {
			if ret, _ := testutil.RunXDP(t, coll.Programs[prog], packets()["udp4"]); ret != want {
				t.Errorf("%s: %s: verdict %d, want %d", name, prog, ret, want)
			}
		}
	}
	mustPanic(t, func() { testprogs.TailCallOf(testprogs.Counter) })
	mustPanic(t, func() { testprogs.TailCallProgram(testprogs.TailCallLinks) })
}

func countCondJumps(insns asm.Instructions) int {
	n := 0
	for _, ins := range insns {
		if ins.OpCode.Class().IsJump() {
			switch ins.OpCode.JumpOp() {
			case asm.Call, asm.Exit, asm.Ja:
			default:
				n++
			}
		}
	}
	return n
}

// TestReflect runs reflect alone: XDP_TX, counted; XDP_DROP while stop is
// set, uncounted.
func TestReflect(t *testing.T) {
	coll, prog := loadObject(t, testprogs.Reflect)
	const tx, drop = 3, 1
	for _, c := range []struct {
		stop uint32
		want uint32
		sum  uint64
	}{{0, tx, 1}, {1, drop, 1}, {0, tx, 2}} {
		if err := coll.Maps[testprogs.ReflectStop].Put(uint32(0), c.stop); err != nil {
			t.Fatal(err)
		}
		if ret, _ := testutil.RunXDP(t, prog, packets()["udp4"]); ret != c.want {
			t.Errorf("stop %d: verdict %d, want %d", c.stop, ret, c.want)
		}
		var per []uint64
		if err := coll.Maps[testprogs.ReflectCount].Lookup(uint32(0), &per); err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		if sum != c.sum {
			t.Errorf("stop %d: reflected %d, want %d", c.stop, sum, c.sum)
		}
	}
}
