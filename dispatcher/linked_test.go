package dispatcher

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestRenameFunctions(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		t.Fatal(err)
	}
	in := spec.Programs["counter"].Instructions
	out, err := renameFunctions(in, "xdpchain_slot3", "xdpchain_s3_")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d instructions, had %d", len(out), len(in))
	}
	funcs := splitFunctions(out)
	if len(funcs) != 2 || funcs[0].name != "xdpchain_slot3" || funcs[1].name != "xdpchain_s3_count" {
		t.Fatalf("functions after renaming: %+v", funcs)
	}
	// BTF func names follow the symbols, or the kernel's func_info would
	// disagree with the code.
	for _, f := range funcs {
		fn := btf.FuncMetadata(&f.insns[0])
		if fn == nil || fn.Name != f.name {
			t.Errorf("function %s carries BTF func %v", f.name, fn)
		}
	}
	calls := 0
	for _, ins := range out {
		if ins.IsFunctionReference() {
			calls++
			if ins.Reference() != "xdpchain_s3_count" {
				t.Errorf("call to %q, want xdpchain_s3_count", ins.Reference())
			}
		}
	}
	if calls == 0 {
		t.Error("no call to the static subprogram")
	}
	// The input is untouched.
	if f := splitFunctions(in); f[0].name != "counter" || f[1].name != "count" || btf.FuncMetadata(&f[1].insns[0]).Name != "count" {
		t.Errorf("renaming changed its input: %s, %s", f[0].name, f[1].name)
	}

	if _, err := renameFunctions(asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, "e", "p_"); err == nil || !strings.Contains(err.Error(), "no entry symbol") {
		t.Errorf("no entry symbol: %v", err)
	}
	unknown := asm.Instructions{asm.Call.Label("elsewhere").WithSymbol("f"), asm.Return()}
	if _, err := renameFunctions(unknown, "e", "p_"); err == nil || !strings.Contains(err.Error(), `"elsewhere"`) {
		t.Errorf("call to an unknown function: %v", err)
	}
}

// TestLinkedBuild splices the counter program, with its static
// subprogram, into two slots of one dispatcher and runs it: each copy
// counts into its own maps and its own counter row.
func TestLinkedBuild(t *testing.T) {
	vmtest.LogWhere(t)
	counter := func(name string) Program {
		return Program{Name: name, Object: testprogs.Object(testprogs.Counter), ProceedOn: DefaultProceedOn}
	}
	g := testGeneration(t, true, counter("c1"), counter("c2"))
	m := linkedMechanism{}
	if m.kind() != Linked {
		t.Errorf("kind %s", m.kind())
	}
	prog, err := m.build(g)
	if err != nil {
		t.Fatal(err)
	}
	g.prog = prog
	for range 3 {
		if ret, _ := testutil.RunXDP(t, prog, make([]byte, 64)); ret != uint32(Pass) {
			t.Fatalf("verdict %d, want pass", ret)
		}
	}
	for _, sl := range g.slots {
		var hits uint64
		if err := sl.maps["hits"].Lookup(uint32(0), &hits); err != nil {
			t.Fatal(err)
		}
		if hits != 3 {
			t.Errorf("%s counted %d hits in its own map, want 3", sl.Name, hits)
		}
	}
	got, ft := generationStats(t, g)
	for i, sl := range g.slots {
		if got[i] != (Stats{Pass: 3}) {
			t.Errorf("%s (row %d): %+v, want 3 passes", sl.Name, sl.counter, got[i])
		}
	}
	if ft != 3 {
		t.Errorf("fall-through %d, want 3", ft)
	}
	if err := m.commit(g); err != nil {
		t.Error(err)
	}
}
