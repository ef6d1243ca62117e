package dispatcher

import (
	"encoding/binary"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestReadDispatcherConfig loads xdp-tools' own xdp-dispatcher.o with its
// .rodata configured as libxdp configures it (the layout of libxdp 1.3's
// struct xdp_dispatcher_config written here by hand: magic, version,
// num_progs_enabled, is_xdp_frags, then chain_call_actions[10],
// run_prios[10], program_flags[10] as u32), and reads it back from the
// kernel program as Adopt does: priorities, chain-call actions as
// ProceedOn (libxdp's bit 31, XDP_DISPATCHER_RETVAL, dropped), frags, and
// the programs in slot order with priorities raised only where
// xdpchain's order (priority, then name) would differ.
func TestReadDispatcherConfig(t *testing.T) {
	testutil.RequireRoot(t)
	const object = "/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o"
	if _, err := os.Stat(object); err != nil {
		t.Skipf("no libxdp dispatcher object here (%v): install xdp-tools", err)
	}
	spec, err := ebpf.LoadCollectionSpec(object)
	if err != nil {
		t.Fatal(err)
	}
	ro := spec.Maps[".rodata"]
	if ro == nil || len(ro.Contents) != 1 {
		t.Fatalf("%s: no .rodata contents", object)
	}
	value := slices.Clone(ro.Contents[0].Value.([]byte))
	if len(value) < 124 {
		t.Fatalf("%s: .rodata is %d bytes, want libxdp 1.3's 124", object, len(value))
	}
	const retval = 1 << 31
	actions := []uint32{1<<2 | retval, 1<<2 | 1<<1 | retval, 1<<3 | 1<<4}
	prios := []uint32{10, 20, 20}
	value[2], value[3] = byte(len(actions)), 1
	for i := range actions {
		binary.LittleEndian.PutUint32(value[4+4*i:], actions[i])
		binary.LittleEndian.PutUint32(value[44+4*i:], prios[i])
	}
	ro.Contents[0].Value = value
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %s: %v", object, err)
	}
	defer coll.Close()
	disp := coll.Programs[libxdpDispatcherName]
	info, err := disp.Info()
	if err != nil {
		t.Fatal(err)
	}
	h, err := disp.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bs, err := h.Spec(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := readDispatcherConfig(info, bs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.numProgs != 3 || !cfg.frags || !cfg.hasFrags {
		t.Errorf("config: %d programs frags %v (%v), want 3 frags", cfg.numProgs, cfg.frags, cfg.hasFrags)
	}
	var comps []libxdpComponent
	for i, name := range []string{"zeta", "beta.x", "alpha"} {
		c := cfg.component(i)
		c.kernelName = name
		comps = append(comps, c)
	}
	ps, err := componentPrograms(comps, "user:0", cfg.frags)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name      string
		priority  int
		proceedOn VerdictSet
	}{
		{"zeta", 10, NewVerdictSet(Pass)},
		{"beta_x", 20, NewVerdictSet(Pass, Drop)},
		// alpha ties with beta_x at 20 but would sort before it: raised.
		{"alpha", 21, NewVerdictSet(TX, Redirect)},
	}
	for i, w := range want {
		p := ps[i]
		if p.Name != w.name || p.Priority != w.priority || p.ProceedOn != w.proceedOn || !p.Frags || p.Owner != "user:0" {
			t.Errorf("program %d: %s priority %d proceed-on %v frags %v, want %s %d %v frags", i, p.Name, p.Priority, p.ProceedOn, p.Frags, w.name, w.priority, w.proceedOn)
		}
	}
	sorted := Chain(ps).Sorted()
	for i := range ps {
		if sorted[i].Name != ps[i].Name {
			t.Errorf("xdpchain's order %v is not libxdp's %v", sorted, ps)
			break
		}
	}
}
