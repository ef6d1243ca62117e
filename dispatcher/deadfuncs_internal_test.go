package dispatcher

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestStackDepthsOfDeadFunctions: the privileged verifier removes the
// functions it proves unreachable before it reports stack depths, so
// deadfuncs (8 functions, 3 of them dead) gets fewer depths than it has
// functions. verifyAlone matches the depths to the functions the kernel
// kept (its func_info): every function has a depth, the removed ones 0,
// and the call graph builds.
func TestStackDepthsOfDeadFunctions(t *testing.T) {
	testutil.RequireRoot(t)
	cs, ps, err := objectSpec(testprogs.Object(testprogs.DeadFuncs), "")
	if err != nil {
		t.Fatal(err)
	}
	maps := map[string]*ebpf.Map{}
	for name, ms := range cs.Maps {
		m, err := ebpf.NewMap(loaderMapSpec(ms))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		maps[name] = m
	}
	insns := append(ps.Instructions[:0:0], ps.Instructions...)
	if err := associateMaps(insns, maps); err != nil {
		t.Fatal(err)
	}
	funcs := splitFunctions(insns)
	s := &slot{Program: Program{Name: "deadfuncs"}, alone: aloneSpec(insns, ps)}

	// The case is real: the verifier reports fewer depths.
	p, err := ebpf.NewProgramWithOptions(s.alone, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats})
	if err != nil {
		t.Fatal(err)
	}
	depths, err := stackDepths(p.VerifierLog)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(depths) >= len(funcs) {
		t.Fatalf("the verifier reported %d depths for %d functions; the test needs it to drop the dead ones", len(depths), len(funcs))
	}

	frames, unknown, err := verifyAlone(s, false, false)
	if err != nil || frames == nil {
		t.Fatalf("verifyAlone: frames %v (%s), %v", frames, unknown, err)
	}
	if len(frames) != len(funcs) {
		t.Fatalf("%d frames for %d functions", len(frames), len(funcs))
	}
	for i, f := range funcs {
		dead := strings.HasPrefix(f.name, "extra")
		switch {
		case dead && frames[i] != 0:
			t.Errorf("dead function %s has depth %d, want 0", f.name, frames[i])
		case !dead && strings.HasPrefix(f.name, "step") && frames[i] == 0:
			t.Errorf("live function %s has no depth", f.name)
		}
	}
	if _, err := newCallGraph(insns, frames); err != nil {
		t.Errorf("call graph: %v", err)
	}
	t.Logf("functions %d, verifier depths %v, frames %v", len(funcs), depths, frames)
}
