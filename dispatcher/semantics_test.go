package dispatcher_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// newSemanticsRoot attaches a root to a veth end in a fresh namespace;
// with reference, its generations use the C root.
func newSemanticsRoot(tb testing.TB, mech dispatcher.Mechanism, reference ...bool) *dispatcher.Root {
	tb.Helper()
	testutil.RequireRoot(tb)
	ns := testutil.NewNetNS(tb)
	pair := testutil.NewVethPair(tb, ns, ns, nil)
	opts := &dispatcher.Options{
		NetNS:         ns.Name,
		Mechanism:     mech,
		BPFFS:         testBPFFS(tb),
		StateDir:      tb.TempDir(),
		ReferenceRoot: len(reference) > 0 && reference[0],
	}
	r, err := dispatcher.Attach(pair.A.Name, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Detach(); err != nil {
			tb.Error(err)
		}
		r.Close()
	})
	// Exact counts need silence: with the peer down, no stray packet
	// (IPv6 router solicitation, MLD) reaches the chain; the tests run
	// packets through BPF_PROG_TEST_RUN only.
	h, err := netlink.NewHandleAt(ns.Handle(), unix.NETLINK_ROUTE)
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	peer, err := h.LinkByName(pair.B.Name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.LinkSetDown(peer); err != nil {
		tb.Fatal(err)
	}
	return r
}

// testBPFFS is a per-test directory in the host's bpffs.
func testBPFFS(tb testing.TB) string {
	return dispatcher.DefaultBPFFS
}

// prog is one program of a semantics case: the verdict it returns and its
// chain options.
type prog struct {
	name     string
	verdict  uint32 // 0..4 or testprogs.InvalidVerdict
	priority int
	proceed  dispatcher.VerdictSet
	allowed  dispatcher.VerdictSet
	shadow   bool
}

// unprivilegedPrograms makes the semantics cases' programs unprivileged
// owners' (Program.Unprivileged).
var unprivilegedPrograms bool

func (p prog) program(tb testing.TB) dispatcher.Program {
	obj := testprogs.Verdict(p.verdict)
	return dispatcher.Program{
		Name:         p.name,
		Priority:     p.priority,
		ProceedOn:    p.proceed,
		Allowed:      p.allowed,
		Shadow:       p.shadow,
		Object:       testprogs.Object(obj),
		ProgramName:  testprogs.Program(obj),
		Unprivileged: unprivilegedPrograms,
	}
}

var (
	none    = dispatcher.VerdictSet(0)
	onPass  = dispatcher.NewVerdictSet(dispatcher.Pass)
	onDrop  = dispatcher.NewVerdictSet(dispatcher.Drop)
	onAbort = dispatcher.NewVerdictSet(dispatcher.Aborted)
)

type semanticsCase struct {
	name        string
	progs       []prog
	fallThrough dispatcher.Verdict
	noCounters  bool
	want        dispatcher.Verdict
	// ran maps program name to the stats it must gain from one packet;
	// programs not listed must gain nothing.
	ran     map[string]dispatcher.Stats
	ftCount uint64 // packets counted as fall-through
}

func semanticsCases() []semanticsCase {
	pass1 := dispatcher.Stats{Pass: 1}
	drop1 := dispatcher.Stats{Drop: 1}
	cases := []semanticsCase{
		{name: "empty chain passes", want: dispatcher.Pass, fallThrough: dispatcher.Pass, ftCount: 1},
		{name: "empty chain fall-through drop", want: dispatcher.Drop, fallThrough: dispatcher.Drop, ftCount: 1},
		{name: "pass continues to fall-through", fallThrough: dispatcher.Pass, want: dispatcher.Pass,
			progs: []prog{{name: "a", verdict: 2, proceed: onPass}}, ran: map[string]dispatcher.Stats{"a": pass1}, ftCount: 1},
		{name: "fall-through verdict after last continue", fallThrough: dispatcher.TX, want: dispatcher.TX,
			progs: []prog{{name: "a", verdict: 2, proceed: onPass}}, ran: map[string]dispatcher.Stats{"a": pass1}, ftCount: 1},
		{name: "drop is final", fallThrough: dispatcher.Pass, want: dispatcher.Drop,
			progs: []prog{{name: "a", verdict: 1, proceed: onPass}, {name: "b", verdict: 2, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": drop1}},
		{name: "pass then drop", fallThrough: dispatcher.Pass, want: dispatcher.Drop,
			progs: []prog{{name: "a", verdict: 2, proceed: onPass}, {name: "b", verdict: 1, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": pass1, "b": drop1}},
		{name: "proceed on drop", fallThrough: dispatcher.Pass, want: dispatcher.TX,
			progs: []prog{{name: "a", verdict: 1, proceed: onDrop}, {name: "b", verdict: 3, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": drop1, "b": {TX: 1}}},
		{name: "empty proceed-on makes pass final", fallThrough: dispatcher.Drop, want: dispatcher.Pass,
			progs: []prog{{name: "a", verdict: 2, proceed: none}, {name: "b", verdict: 1, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": pass1}},
		{name: "redirect is returned", fallThrough: dispatcher.Pass, want: dispatcher.Redirect,
			progs: []prog{{name: "a", verdict: 0, proceed: onAbort}, {name: "b", verdict: 4, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": {Aborted: 1}, "b": {Redirect: 1}}},
		{name: "invalid verdict becomes aborted", fallThrough: dispatcher.Pass, want: dispatcher.Aborted,
			progs: []prog{{name: "a", verdict: testprogs.InvalidVerdict, proceed: onPass}, {name: "b", verdict: 2, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": {Invalid: 1}}},
		{name: "invalid verdict proceeds on aborted", fallThrough: dispatcher.Drop, want: dispatcher.Drop,
			progs: []prog{{name: "a", verdict: testprogs.InvalidVerdict, proceed: onAbort}, {name: "b", verdict: 2, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": {Invalid: 1}, "b": pass1}, ftCount: 1},
		{name: "denied verdict becomes aborted", fallThrough: dispatcher.Pass, want: dispatcher.Aborted,
			progs: []prog{{name: "a", verdict: 3, proceed: onPass, allowed: dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop)}},
			ran:   map[string]dispatcher.Stats{"a": {Denied: 1}}},
		{name: "allowed verdict is kept", fallThrough: dispatcher.Pass, want: dispatcher.Drop,
			progs: []prog{{name: "a", verdict: 1, proceed: onPass, allowed: dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop)}},
			ran:   map[string]dispatcher.Stats{"a": drop1}},
		{name: "shadow counts but continues", fallThrough: dispatcher.Pass, want: dispatcher.Pass,
			progs: []prog{{name: "a", verdict: 1, proceed: none, shadow: true}},
			ran:   map[string]dispatcher.Stats{"a": drop1}, ftCount: 1},
		{name: "lower priority runs first", fallThrough: dispatcher.Pass, want: dispatcher.TX,
			progs: []prog{{name: "a", verdict: 1, priority: 2, proceed: onPass}, {name: "z", verdict: 3, priority: 1, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"z": {TX: 1}}},
		{name: "priority ties ordered by name", fallThrough: dispatcher.Pass, want: dispatcher.TX,
			progs: []prog{{name: "b", verdict: 1, priority: 7, proceed: onPass}, {name: "a", verdict: 3, priority: 7, proceed: onPass}},
			ran:   map[string]dispatcher.Stats{"a": {TX: 1}}},
		{name: "counters off", fallThrough: dispatcher.Pass, want: dispatcher.Drop, noCounters: true,
			progs: []prog{{name: "a", verdict: 2, proceed: onPass}, {name: "b", verdict: 1, priority: 1, proceed: onPass}}},
	}
	// A full dispatcher: 63 programs pass, the last one drops.
	full := semanticsCase{name: "64 programs", fallThrough: dispatcher.Pass, want: dispatcher.Drop, ran: map[string]dispatcher.Stats{}}
	for i := 0; i < dispatcher.MaxPrograms; i++ {
		p := prog{name: fmt.Sprintf("p%02d", i), verdict: 2, priority: i, proceed: onPass}
		st := pass1
		if i == dispatcher.MaxPrograms-1 {
			p.verdict, st = 1, drop1
		}
		full.progs = append(full.progs, p)
		full.ran[p.name] = st
	}
	return append(cases, full)
}

func TestSemantics(t *testing.T) {
	vmtest.LogWhere(t)
	pkt := testutil.UDPPacket(netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:2000"), []byte("xdpchain"))
	for _, root := range []string{"emitted", "reference", "unprivileged", "observed", "sampled"} {
		t.Run(root, func(t *testing.T) {
			// The emitted root (configuration folded into instructions)
			// must behave exactly like the C reference root, also when
			// it is verified as an unprivileged caller's (its counting
			// then avoids variable pointer offsets), and while observed
			// (profiled, traced and captured at once: every
			// generation carries the probes), also profiled one packet
			// in 2 (the root holds two copies of the chain: each case
			// runs twice, so that both run).
			unprivilegedPrograms = root == "unprivileged"
			t.Cleanup(func() { unprivilegedPrograms = false })
			var probes []dispatcher.Probe
			switch root {
			case "observed":
				probes = semanticsProbes
			case "sampled":
				probes = append([]dispatcher.Probe{{Kind: dispatcher.ProbeProfile, Sample: 2}}, semanticsProbes[1:]...)
			}
			testSemantics(t, pkt, root != "reference", probes)
		})
	}
}

// semanticsProbes observe every generation of the observed variant.
var semanticsProbes = []dispatcher.Probe{
	{Kind: dispatcher.ProbeProfile},
	{Kind: dispatcher.ProbeTrace},
	{Kind: dispatcher.ProbeCapture},
}

func testSemantics(t *testing.T, pkt []byte, emitted bool, probes []dispatcher.Probe) {
	observed := len(probes) > 0
	runs := uint64(1)
	if observed && probes[0].Sample > 1 {
		runs = 2
	}
	for _, mech := range mechtest.Mechanisms {
		t.Run(string(mech), func(t *testing.T) {
			mechtest.Require(t, mech)
			r := newSemanticsRoot(t, mech, !emitted)
			if observed {
				for _, p := range probes {
					o, err := r.Observe(p)
					if err != nil {
						t.Fatalf("observing (%s): %v", p.Kind, err)
					}
					t.Cleanup(func() { o.Close() })
				}
			}
			for _, tc := range semanticsCases() {
				t.Run(tc.name, func(t *testing.T) {
					spec := dispatcher.Spec{Fallthrough: tc.fallThrough, Mechanism: mech, NoCounters: tc.noCounters}
					for _, p := range tc.progs {
						spec.Programs = append(spec.Programs, p.program(t))
					}
					if err := r.Apply(spec); err != nil {
						t.Fatal(err)
					}
					if observed && len(r.Observing()) != len(probes) {
						t.Fatalf("the generation observes for %d, want %d", len(r.Observing()), len(probes))
					}
					before := statsByName(t, r)
					for range runs {
						if got := runDispatcher(t, r, pkt); got != tc.want {
							t.Errorf("verdict %s, want %s", got, tc.want)
						}
					}
					after := statsByName(t, r)
					for name, st := range after {
						if name == "" {
							continue
						}
						delta := sub(st, before[name])
						want := scale(tc.ran[name], runs)
						if delta != want {
							t.Errorf("program %s counted %+v, want %+v", name, delta, want)
						}
					}
					if got := after[""].Total() - before[""].Total(); got != runs*tc.ftCount && !tc.noCounters {
						t.Errorf("fall-through counted %d, want %d", got, runs*tc.ftCount)
					}
				})
			}
			st, err := r.Status()
			if err != nil {
				t.Fatal(err)
			}
			if st.Mechanism != mech {
				t.Errorf("status says mechanism %s, want %s", st.Mechanism, mech)
			}
			// The last case's programs are small: inline places them all
			// (the reference root calls every slot).
			for _, p := range st.Programs {
				if mech == dispatcher.Inline && emitted && p.Placement != dispatcher.PlacementInline {
					t.Errorf("%s placed %q (%s), want inline", p.Name, p.Placement, p.CallReason)
				}
				if mech == dispatcher.Inline && !emitted && p.Placement == dispatcher.PlacementInline {
					t.Errorf("the reference root inlined %s", p.Name)
				}
			}
		})
	}
}

// statsByName maps program name to its stats; "" is the fall-through
// counter (in Pass).
func statsByName(tb testing.TB, r *dispatcher.Root) map[string]dispatcher.Stats {
	tb.Helper()
	st, err := r.Status()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]dispatcher.Stats{"": {Pass: st.FallthroughPackets}}
	for _, p := range st.Programs {
		out[p.Name] = p.Stats
	}
	return out
}

// scale returns a's counts times n.
func scale(a dispatcher.Stats, n uint64) dispatcher.Stats {
	return dispatcher.Stats{
		Aborted: a.Aborted * n, Drop: a.Drop * n, Pass: a.Pass * n, TX: a.TX * n,
		Redirect: a.Redirect * n, Invalid: a.Invalid * n, Denied: a.Denied * n,
	}
}

func sub(a, b dispatcher.Stats) dispatcher.Stats {
	return dispatcher.Stats{
		Aborted: a.Aborted - b.Aborted, Drop: a.Drop - b.Drop, Pass: a.Pass - b.Pass, TX: a.TX - b.TX,
		Redirect: a.Redirect - b.Redirect, Invalid: a.Invalid - b.Invalid, Denied: a.Denied - b.Denied,
	}
}

// runDispatcher runs the root's running dispatcher once on pkt with
// BPF_PROG_TEST_RUN.
func runDispatcher(tb testing.TB, r *dispatcher.Root, pkt []byte) dispatcher.Verdict {
	tb.Helper()
	st, err := r.Status()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(st.DispatcherID))
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Close()
	ret, err := p.Run(&ebpf.RunOptions{Data: pkt})
	if err != nil {
		tb.Fatal(err)
	}
	return dispatcher.Verdict(ret)
}
