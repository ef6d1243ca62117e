package dispatcher_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// untypedAlone loads program fn of an object as iproute2 loads a program
// of an untyped section, as XDP, and runs it once on pkt.
func untypedAlone(t *testing.T, object, fn string, pkt []byte) dispatcher.Verdict {
	t.Helper()
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(testprogs.Object(object)))
	if err != nil {
		t.Fatal(err)
	}
	ps := cs.Programs[fn].Copy()
	ps.Type, ps.AttachType = ebpf.XDP, ebpf.AttachXDP
	p, err := ebpf.NewProgram(ps)
	if err != nil {
		t.Fatalf("loading %s alone: %v", fn, err)
	}
	defer p.Close()
	ret, err := p.Run(&ebpf.RunOptions{Data: pkt})
	if err != nil {
		t.Fatal(err)
	}
	return dispatcher.Verdict(ret)
}

// TestUntypedProgramsInChain loads programs of sections that name no type
// into a chain on every mechanism: the only program of an object, picked
// without a name, and one named among several. Each decides as it does
// alone, loaded as XDP, and its decisions are counted.
func TestUntypedProgramsInChain(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		r := newSemanticsRoot(t, mech)
		only, err := dispatcher.NewProgram("redirect", testprogs.Object(testprogs.UntypedOne), "")
		if err != nil {
			t.Fatal(err)
		}
		x, err := dispatcher.NewProgram("x", testprogs.Object(testprogs.Untyped), "xdp_x")
		if err != nil {
			t.Fatal(err)
		}
		foo, err := dispatcher.NewProgram("foo", testprogs.Object(testprogs.Untyped), "foo")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Apply(dispatcher.Spec{Mechanism: mech, Programs: dispatcher.Chain{only, x, foo}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			port   uint16
			by     string
			object string
			fn     string
		}{
			{testprogs.UntypedPort111, "redirect", testprogs.UntypedOne, "xdp_redirect_to_111"},
			{testprogs.UntypedPortFoo, "foo", testprogs.Untyped, "foo"},
			{9, "", "", ""},
		} {
			want := dispatcher.Pass
			if tc.by != "" {
				want = untypedAlone(t, tc.object, tc.fn, udpTo(tc.port))
				if want != dispatcher.Drop {
					t.Fatalf("%s alone: port %d: %s, want drop", tc.fn, tc.port, want)
				}
			}
			before := statsByName(t, r)
			if got := runDispatcher(t, r, udpTo(tc.port)); got != want {
				t.Errorf("port %d: verdict %s, want %s", tc.port, got, want)
			}
			after := statsByName(t, r)
			if tc.by != "" {
				if d := sub(after[tc.by], before[tc.by]); d != (dispatcher.Stats{Drop: 1}) {
					t.Errorf("port %d: %s counted %+v, want one drop", tc.port, tc.by, d)
				}
			} else if d := sub(after[""], before[""]); d.Pass != 1 {
				t.Errorf("port 9: fall-through counted %d, want 1", d.Pass)
			}
		}
		if mech == dispatcher.Inline {
			for name, p := range placements(t, r) {
				if p.Placement != dispatcher.PlacementInline {
					t.Errorf("%s placed %q (%s)", name, p.Placement, p.CallReason)
				}
			}
		}
	})
}

// TestUntypedProgramsByCLI loads untyped programs with the xdpchain
// binary, as a user would: the only program of an object without --prog,
// one of several with --prog; without --prog among several, and with
// --prog naming a classifier, the load is refused, saying why, and the
// chain keeps what it had. Traffic shows each program at work.
func TestUntypedProgramsByCLI(t *testing.T) {
	f := newFixture(t, dispatcher.Inline)
	dir := t.TempDir()
	one, err := testprogs.WriteFile(dir, testprogs.UntypedOne)
	if err != nil {
		t.Fatal(err)
	}
	several, err := testprogs.WriteFile(dir, testprogs.Untyped)
	if err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (string, int) {
		_, errOut, code := runBin(t, append(append(f.cliArgs(), "--no-daemon", "load"), args...)...)
		return errOut, code
	}
	if errOut, code := load(f.iface(), one); code != 0 {
		t.Fatalf("loading the only, untyped program: exit %d: %s", code, errOut)
	}
	if errOut, code := load("--prog", "foo", "--name", "foo", f.iface(), several); code != 0 {
		t.Fatalf("loading foo with --prog: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--name", "any", f.iface(), several}, "several XDP programs [foo xdp_redirect_to_111 xdp_x]: name the one to load with --prog (one of foo, xdp_redirect_to_111, xdp_x)"},
		{[]string{"--prog", "classifier", f.iface(), several}, `"classifier" is SchedCLS (section "tc"), not XDP`},
	} {
		errOut, code := load(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("xdpchain load %v: exit %d, %q; want a refusal saying %q", tc.args, code, errOut, tc.msg)
		}
	}
	r := f.attach(t)
	if got := names(t, status(t, r)); len(got) != 2 {
		t.Errorf("chain %v, want the two loaded programs", got)
	}
	f.expectUDP(t, false, testprogs.UntypedPort111, 5, false)
	f.expectUDP(t, false, testprogs.UntypedPortFoo, 5, false)
	f.expectUDP(t, false, 9, 5, true)
}
