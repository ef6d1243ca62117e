package dispatcher

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// timedCopy counts the instructions of g's root that belong to the timed
// copy of a dual root, and its bpf_ktime_get_ns calls.
func timedCopy(g *generation) (insns, clocks int) {
	in := false
	for _, ins := range g.rootSpec.Instructions {
		if sym := ins.Symbol(); sym != "" {
			in = strings.HasPrefix(sym, g.timedName(g.label("")))
		}
		if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnKtimeGetNs) {
			clocks++
		}
		if in {
			insns++
		}
	}
	return insns, clocks
}

// TestEmitRootDual profiles a chain of 10 one packet in 3: the verifier
// accepts the root with its two copies of the chain, every packet is
// counted as by the plain root, and one in 3 is timed, spread: each timed
// packet at one program, or at all of them and the root's gaps (the root's
// row counts those). A chain too long for an unprivileged caller's root
// twice keeps one copy and says why.
func TestEmitRootDual(t *testing.T) {
	vmtest.LogWhere(t)
	var progs []Program
	for i := range 10 {
		progs = append(progs, verdictProgram(t, fmt.Sprintf("p%d", i), Pass))
	}
	g := testGeneration(t, true, progs...)
	plain := len(g.rootSpec.Instructions)
	prof, err := ebpf.NewMap(&ebpf.MapSpec{Name: "xdpchain_prof", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: profileRowSize, MaxEntries: profileRows})
	if err != nil {
		t.Fatal(err)
	}
	defer prof.Close()
	g.obs = &observing{profile: prof, sample: 3}
	if err := g.prepareRoot(); err != nil {
		t.Fatal(err)
	}
	timed, clocks := timedCopy(g)
	t.Logf("plain root %d instructions, dual %d (timed copy %d, %d clock reads)", plain, len(g.rootSpec.Instructions), timed, clocks)
	if !g.obs.dual || g.obs.oneCopy() != "" || timed < plain/2 || clocks < 2*len(progs) {
		t.Fatalf("not a dual root: dual %v (%q), %d instructions in the timed copy, %d clock reads", g.obs.dual, g.obs.oneCopy(), timed, clocks)
	}
	const n = 600
	g.prog, err = linkedMechanism{}.build(g)
	if err != nil {
		t.Fatalf("the verifier refused the dual root: %v", err)
	}
	for range n {
		if ret, _ := testutil.RunXDP(t, g.prog, make([]byte, 64)); ret != uint32(Pass) {
			t.Errorf("verdict %d, want pass", ret)
		}
	}
	got, ft := generationStats(t, g)
	for i, s := range got {
		if s != (Stats{Pass: n}) {
			t.Errorf("slot %d: %+v, want %d passes", i, s, n)
		}
	}
	if ft != n {
		t.Errorf("fall-through %d, want %d", ft, n)
	}
	rows, err := readProfileRows(prof)
	if err != nil {
		t.Fatal(err)
	}
	// Each CPU's first packet, then one in 3: n/3, give or take one per
	// CPU. A packet timed everywhere counts once in the root's row and
	// once in each program's; one timed at one program, there only.
	everywhere, slots := rows[0].Packets, uint64(0)
	for i := range progs {
		r := rows[uint32(g.slots[i].counter)].Packets
		if r < everywhere {
			t.Errorf("program %d timed on %d packets, fewer than the %d timed everywhere", i, r, everywhere)
		}
		slots += r
	}
	once := slots - everywhere*uint64(len(progs))
	timedPackets := once + everywhere
	t.Logf("%d packets timed: %d at one program, %d everywhere", timedPackets, once, everywhere)
	if cpus := uint64(ebpf.MustPossibleCPU()); timedPackets+1 < n/3 || timedPackets > n/3+cpus+1 {
		t.Errorf("%d of %d packets timed, one in 3 asked", timedPackets, n)
	}
	// Of 200 timed packets, each draws its turn from 11: some drew all,
	// some one program (a miss has odds of 1e-8).
	if everywhere == 0 || once == 0 {
		t.Errorf("timing not spread: %d packets timed at one program, %d everywhere", once, everywhere)
	}

	big := testGeneration(t, true, append(progs, append(progs, append(progs, append(progs, progs...)...)...)...)...)
	for _, s := range big.slots {
		s.Unprivileged = true
	}
	big.obs = &observing{profile: prof, sample: 3}
	if err := big.prepareRoot(); err != nil {
		t.Fatal(err)
	}
	if timed, _ := timedCopy(big); big.obs.dual || timed != 0 || !strings.Contains(big.obs.oneCopy(), "would exceed 4096") {
		t.Errorf("an unprivileged chain of %d: dual %v, %d instructions in a timed copy, one copy because %q", len(big.slots), big.obs.dual, timed, big.obs.oneCopy())
	}
}
