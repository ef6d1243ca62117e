package dispatcher_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// libxdpFilter is an xdp-filter program from xdp-tools: a real libxdp
// program with XDP_RUN_CONFIG metadata (priority 10, proceed on pass) and
// maps of its own (rules, statistics). Its verdict on a packet depends on
// its (empty) rules and on the xdp-tools version, so the test asks the
// program alone first.
const libxdpFilter = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_udp.o"

func libxdpObject(t *testing.T) []byte {
	t.Helper()
	obj, err := os.ReadFile(libxdpFilter)
	if err != nil {
		t.Skipf("no libxdp program to test with (%v): install xdp-tools, or have the harness copy %s", err, libxdpFilter)
	}
	return obj
}

func TestNewProgramDefaults(t *testing.T) {
	for _, tc := range []struct {
		object, progName string
		priority         int
		proceed          dispatcher.VerdictSet
	}{
		{testprogs.RunConfig, "runconfig", testprogs.RunConfigPriority, dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop)},
		{testprogs.DropPort, "dropport", testprogs.DropPortPriority, dispatcher.NewVerdictSet(dispatcher.Pass)},
		{testprogs.Noop, "noop", dispatcher.DefaultPriority, dispatcher.DefaultProceedOn},
		{testprogs.Multi, "second", dispatcher.DefaultPriority, dispatcher.DefaultProceedOn},
	} {
		t.Run(tc.object, func(t *testing.T) {
			p, err := dispatcher.NewProgram("", testprogs.Object(tc.object), tc.progName)
			if err != nil {
				t.Fatal(err)
			}
			if p.Priority != tc.priority || p.ProceedOn != tc.proceed {
				t.Errorf("priority %d proceed-on %s, want %d %s", p.Priority, p.ProceedOn, tc.priority, tc.proceed)
			}
			if p.Name != tc.progName || p.ProgramName != tc.progName {
				t.Errorf("name %q program %q, want both %q", p.Name, p.ProgramName, tc.progName)
			}
			if !bytes.Equal(p.Object, testprogs.Object(tc.object)) {
				t.Error("object not kept")
			}
		})
	}
	// The only XDP program is found without naming it.
	if p, err := dispatcher.NewProgram("x", testprogs.Object(testprogs.RunConfig), ""); err != nil || p.ProgramName != "runconfig" {
		t.Errorf("without a program name: %+v, %v", p.ProgramName, err)
	}
	_, err := dispatcher.NewProgram("m", testprogs.Object(testprogs.Multi), "")
	var pe *dispatcher.ProgramError
	if !errors.Is(err, dispatcher.ErrInvalid) || !errors.As(err, &pe) || pe.Program != "m" {
		t.Errorf("two XDP programs, none chosen: %v", err)
	}
}

func TestParseRunConfig(t *testing.T) {
	spec, err := testprogs.Spec(testprogs.RunConfig)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := dispatcher.ParseRunConfig(spec.Types, "runconfig")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Priority == nil || *rc.Priority != testprogs.RunConfigPriority || rc.ProceedOn == nil || *rc.ProceedOn != dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop) {
		t.Errorf("runconfig: %+v", rc)
	}
	// Another function of the object, and objects without metadata, have
	// none.
	if rc, err := dispatcher.ParseRunConfig(spec.Types, "other"); err != nil || rc.Priority != nil || rc.ProceedOn != nil {
		t.Errorf("other function: %+v, %v", rc, err)
	}
	noop, err := testprogs.Spec(testprogs.Noop)
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := dispatcher.ParseRunConfig(noop.Types, "noop"); err != nil || rc.Priority != nil || rc.ProceedOn != nil {
		t.Errorf("noop: %+v, %v", rc, err)
	}
	if rc, err := dispatcher.ParseRunConfig(nil, "noop"); err != nil || rc.Priority != nil {
		t.Errorf("no BTF: %+v, %v", rc, err)
	}
}

func TestLibxdpProgramDefaults(t *testing.T) {
	obj := libxdpObject(t)
	p, err := dispatcher.NewProgram("", obj, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.ProgramName != "xdpfilt_dny_udp" || p.Priority != 10 || p.ProceedOn != dispatcher.NewVerdictSet(dispatcher.Pass) {
		t.Errorf("xdp-filter program: %s priority %d proceed-on %s, want xdpfilt_dny_udp 10 pass", p.ProgramName, p.Priority, p.ProceedOn)
	}
}

// TestMetadataInChain loads libxdp-style programs with their declared
// defaults and with explicit overrides, and checks what the chain records
// and that a real libxdp program runs in it.
func TestMetadataInChain(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		declared := program(t, testprogs.RunConfig, "declared")
		override := program(t, testprogs.RunConfig, "override")
		override.Priority = 5
		override.ProceedOn = dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.TX)
		add(t, r, declared, override)
		st := status(t, r)
		if got := names(t, st); len(got) != 2 || got[0] != "override" {
			t.Fatalf("chain %v, want override (5) before declared (20)", got)
		}
		for _, tc := range []struct {
			p        dispatcher.ProgramStatus
			priority int
			proceed  string
		}{{st.Programs[0], 5, "[pass tx]"}, {st.Programs[1], testprogs.RunConfigPriority, "[drop pass]"}} {
			if tc.p.Priority != tc.priority || fmtList(tc.p.ProceedOn) != tc.proceed || tc.p.Program != "runconfig" {
				t.Errorf("%s: priority %d proceed-on %v program %q, want %d %s runconfig", tc.p.Name, tc.p.Priority, tc.p.ProceedOn, tc.p.Program, tc.priority, tc.proceed)
			}
		}

		t.Run("libxdp program", func(t *testing.T) {
			obj := libxdpObject(t)
			p, err := dispatcher.NewProgram("xdp-filter", obj, "")
			if err != nil {
				t.Fatal(err)
			}
			add(t, r, p)
			var got dispatcher.ProgramStatus
			for _, ps := range status(t, r).Programs {
				if ps.Name == "xdp-filter" {
					got = ps
				}
			}
			if got.Priority != 10 || fmtList(got.ProceedOn) != "[pass]" || got.Slot != 1 {
				t.Errorf("xdp-filter in the chain: %+v, want slot 1, priority 10, proceed-on pass", got)
			}
			maps, err := r.ProgramMaps("xdp-filter")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := maps["filter_ports"]; !ok {
				t.Errorf("xdp-filter's maps not pinned: %v", maps)
			}
			alone := standaloneVerdict(t, obj, "xdpfilt_dny_udp", testutil.UDPPacket(
				netip.AddrPortFrom(f.pair.A.Addr4(), 40000), f.addr(false, passPort), []byte("xdpchain")))
			t.Logf("xdp-filter alone returns %s for the datagrams", alone)
			if alone != dispatcher.Pass && alone != dispatcher.Drop {
				t.Fatalf("xdp-filter alone returns %s", alone)
			}
			f.expectUDP(t, false, passPort, 5, alone == dispatcher.Pass)
			s := statsByName(t, r)["xdp-filter"]
			if n := map[dispatcher.Verdict]uint64{dispatcher.Pass: s.Pass, dispatcher.Drop: s.Drop}[alone]; n < 5 {
				t.Errorf("xdp-filter in the chain counted %+v, want >= 5 %s", s, alone)
			}
			// Its own statistics map (per-CPU, by action: packets and
			// bytes) counted them too: it runs with its own maps.
			m, err := ebpf.LoadPinnedMap(maps["xdp_stats_map"], nil)
			if err != nil {
				t.Fatalf("xdp_stats_map: %v", err)
			}
			defer m.Close()
			var per []struct{ Packets, Bytes uint64 }
			if err := m.Lookup(uint32(alone), &per); err != nil {
				t.Fatalf("reading xdp_stats_map: %v", err)
			}
			var packets uint64
			for _, c := range per {
				packets += c.Packets
			}
			if packets < 5 {
				t.Errorf("xdp-filter's own map counted %d packets with verdict %s, want >= 5", packets, alone)
			}
		})
	})
}

// standaloneVerdict loads program fn of an object on its own (maps
// unpinned) and runs it once on pkt.
func standaloneVerdict(t *testing.T, obj []byte, fn string, pkt []byte) dispatcher.Verdict {
	t.Helper()
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	delete(cs.Maps, ".xdp_run_config")
	for _, m := range cs.Maps {
		m.Pinning = ebpf.PinNone
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		t.Fatalf("loading %s alone: %v", fn, err)
	}
	defer coll.Close()
	v, _ := testutil.RunXDP(t, coll.Programs[fn], pkt)
	return dispatcher.Verdict(v)
}

func fmtList(s []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	b.WriteByte(']')
	return b.String()
}
