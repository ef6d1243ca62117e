package dispatcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// testGeneration builds a generation of progs as apply does: slots
// prepared from their objects (maps pinned on a private bpffs), counter
// rows 1..n, a fresh counters map, and the root prepared. Everything is
// released when the test ends.
func testGeneration(t *testing.T, counters bool, progs ...Program) *generation {
	t.Helper()
	testutil.RequireRoot(t)
	r := &Root{pins: newPinDir(Options{BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir()}, 1, 1)}
	stats, err := newStatsMap(maxCounters + 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stats.Close() })
	g := &generation{
		number: 1, pins: r.pins, fallthrough_: Pass, counters: counters, ftColumn: colInvalid, frags: false, stats: stats,
		replacePins: map[string]*ebpf.Map{}, readOnly: map[string]*ebpf.Map{},
	}
	t.Cleanup(g.close)
	for i, p := range progs {
		sl, err := r.prepareSlot(g, p, programState{}, false, false)
		if err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		sl.counter = uint32(i + 1)
		g.slots = append(g.slots, sl)
	}
	if err := g.prepareRoot(); err != nil {
		t.Fatal(err)
	}
	return g
}

// generationStats returns what g counted per slot, derived as status
// derives it, and the packets that fell through.
func generationStats(t *testing.T, g *generation) ([]Stats, uint64) {
	t.Helper()
	rows, err := counterRows(g.stats)
	if err != nil {
		t.Fatal(err)
	}
	c := counting{how: countingOnce, noCounters: !g.counters, ftColumn: g.ftColumn}
	for _, sl := range g.slots {
		c.programs = append(c.programs, programState{programRecord: recordOf(sl.Program), Counter: sl.counter})
	}
	byName, ft := generationCounts(c, rows)
	out := make([]Stats, len(g.slots))
	for i, sl := range g.slots {
		out[i] = byName[sl.Name]
	}
	return out, ft
}

// verdictProgram is the test object returning v, as slot program name.
func verdictProgram(t *testing.T, name string, v Verdict) Program {
	t.Helper()
	obj := testprogs.Object("verdict_" + v.String())
	p, err := NewProgram(name, obj, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSplitFunctions(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		t.Fatal(err)
	}
	insns := spec.Programs["counter"].Instructions
	funcs := splitFunctions(insns)
	if len(funcs) != 2 || funcs[0].name != "counter" || funcs[1].name != "count" {
		var names []string
		for _, f := range funcs {
			names = append(names, f.name)
		}
		t.Fatalf("functions %v, want [counter count]", names)
	}
	n := 0
	for _, f := range funcs {
		if f.insns[0].Symbol() != f.name {
			t.Errorf("%s starts at symbol %q", f.name, f.insns[0].Symbol())
		}
		for _, ins := range f.insns[1:] {
			if ins.Symbol() != "" {
				t.Errorf("%s contains symbol %q", f.name, ins.Symbol())
			}
		}
		n += len(f.insns)
	}
	if n != len(insns) {
		t.Errorf("functions hold %d instructions, the program %d", n, len(insns))
	}

	// A stream without a leading symbol starts with an unnamed function.
	anon := splitFunctions(asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return(), asm.Return().WithSymbol("f")})
	if len(anon) != 2 || anon[0].name != "" || len(anon[0].insns) != 2 || anon[1].name != "f" {
		t.Errorf("unnamed start: %+v", anon)
	}
	if got := splitFunctions(nil); len(got) != 0 {
		t.Errorf("no instructions: %+v", got)
	}
}

func TestWithConfig(t *testing.T) {
	base, err := dispatcherSpec()
	if err != nil {
		t.Fatal(err)
	}
	cs := base.Copy()
	v := cs.Variables[configVariable]
	if v == nil {
		t.Fatalf("the dispatcher has no %s", configVariable)
	}
	orig := bytes.Clone(cs.Maps[v.SectionName].Contents[0].Value.([]byte))

	cfg := dispatcherXdpchainConfig{Magic: configMagic, Version: configVersion, NumSlots: 3, Fallthrough: 1, Flags: flagCounters}
	for i := range cfg.ProceedOn {
		cfg.ProceedOn[i], cfg.Allowed[i], cfg.Counter[i], cfg.SlotFlags[i] = uint32(i), uint32(i+100), uint32(i+200), uint32(i%2)
	}
	ms, err := withConfig(cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := ms.Contents[0].Value.([]byte)
	if len(data) != len(orig) {
		t.Fatalf("section is %d bytes, was %d", len(data), len(orig))
	}
	var got dispatcherXdpchainConfig
	if err := binary.Read(bytes.NewReader(data[v.Offset:v.Offset+v.Size()]), binary.NativeEndian, &got); err != nil {
		t.Fatal(err)
	}
	if got != cfg {
		t.Errorf("configuration read back differs:\n%+v\nwant\n%+v", got, cfg)
	}
	if !bytes.Equal(data[:v.Offset], orig[:v.Offset]) || !bytes.Equal(data[v.Offset+v.Size():], orig[v.Offset+v.Size():]) {
		t.Error("bytes outside the configuration changed")
	}
	if !bytes.Equal(cs.Maps[v.SectionName].Contents[0].Value.([]byte), orig) {
		t.Error("withConfig modified the spec it was given")
	}

	delete(cs.Variables, configVariable)
	if _, err := withConfig(cs, cfg); err == nil || !strings.Contains(err.Error(), configVariable) {
		t.Errorf("without the variable: %v", err)
	}
}

func TestGenerationConfig(t *testing.T) {
	g := &generation{fallthrough_: Drop, counters: true, ftColumn: colDenied, slots: []*slot{
		{Program: Program{ProceedOn: NewVerdictSet(Pass)}, counter: 4},
		{Program: Program{ProceedOn: NewVerdictSet(Pass, Drop), Allowed: NewVerdictSet(Pass), Shadow: true}, counter: 9},
	}}
	c := g.config()
	if c.Magic != configMagic || c.Version != configVersion || c.NumSlots != 2 || c.Fallthrough != uint32(Drop) || c.Flags != flagCounters || c.FallthroughColumn != colDenied {
		t.Errorf("header %+v", c)
	}
	if c.ProceedOn[0] != uint32(NewVerdictSet(Pass)) || c.ProceedOn[1] != uint32(NewVerdictSet(Pass, Drop)) {
		t.Errorf("proceed-on %v", c.ProceedOn[:2])
	}
	if c.Allowed[0] != uint32(AllVerdicts) || c.Allowed[1] != uint32(NewVerdictSet(Pass)) || c.Allowed[2] != 0 {
		t.Errorf("allowed %v: unrestricted is all verdicts, unused slots zero", c.Allowed[:3])
	}
	// The first proceeds on one verdict: derived (stats.go).
	if c.Counter[0] != 4 || c.Counter[1] != 9 || c.SlotFlags[0] != slotFlagDerived || c.SlotFlags[1] != slotFlagShadow {
		t.Errorf("counters %v flags %v", c.Counter[:2], c.SlotFlags[:2])
	}
	g.counters = false
	if g.config().Flags != 0 {
		t.Error("counters flag set without counters")
	}
}

// TestPrepareRootReference builds the C root with its configuration in a
// frozen .rodata and runs it: the configured fall-through comes back.
func TestPrepareRootReference(t *testing.T) {
	for _, ft := range []Verdict{Pass, Drop} {
		g := testGeneration(t, true)
		g.referenceRoot = true
		g.fallthrough_ = ft
		g.rodata.Close()
		if err := g.prepareRoot(); err != nil {
			t.Fatal(err)
		}
		if g.rodata == nil {
			t.Fatal("no configuration map")
		}
		prog, err := loadProgram(rootProgramName, g.rootSpec, true)
		if err != nil {
			t.Fatal(err)
		}
		ret, _ := testutil.RunXDP(t, prog, make([]byte, 64))
		prog.Close()
		if ret != uint32(ft) {
			t.Errorf("reference root with fall-through %s returned %d", ft, ret)
		}
	}
}

func TestLoadProgramError(t *testing.T) {
	testutil.RequireRoot(t)
	bad := &ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: asm.Instructions{asm.Return()}} // R0 unset
	for _, logs := range []bool{false, true} {
		p, err := loadProgram("bad", bad, logs)
		if err == nil {
			p.Close()
			t.Fatal("a program returning an unset R0 loaded")
		}
		var pe *ProgramError
		if !errors.As(err, &pe) || pe.Program != "bad" || !errors.Is(err, ErrLoad) {
			t.Fatalf("error %v, want a ProgramError for bad wrapping ErrLoad", err)
		}
		if !strings.Contains(pe.VerifierLog, "R0") {
			t.Errorf("logs %v: verifier log %q does not name R0", logs, pe.VerifierLog)
		}
	}
}

// TestGenerationDiscard removes the pins a failed generation created and
// their directories when empty.
func TestGenerationDiscard(t *testing.T) {
	g := testGeneration(t, true, Program{Name: "c", Object: testprogs.Object(testprogs.Counter), ProceedOn: DefaultProceedOn})
	if len(g.newPins) == 0 {
		t.Fatal("the counter program pinned no maps")
	}
	for _, p := range g.newPins {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := g.pins.progMaps("c")
	g.discard()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		t.Errorf("after discard %s holds %v (%v)", dir, entries, err)
	}
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		t.Errorf("the maps directory itself was removed: %v", err)
	}
	g.slots, g.prog, g.rodata = nil, nil, nil // closed by discard
}
