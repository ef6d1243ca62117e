package api

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/dispatcher"
	"google.golang.org/protobuf/proto"
)

// TestErrorsCrossTheSocket: an error keeps its message, its sentinel and
// the program it names (with the verifier's log) through toStatus and
// fromStatus.
func TestErrorsCrossTheSocket(t *testing.T) {
	for _, s := range sentinels {
		err := ErrorFromStatus(ErrorToStatus(fmt.Errorf("doing it: %w", s.err)))
		if !errors.Is(err, s.err) || err.Error() != "doing it: "+s.err.Error() {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	pe := &dispatcher.ProgramError{Program: "bad", Err: fmt.Errorf("%w: rejected", dispatcher.ErrLoad), VerifierLog: "0: r0 = 1\n1: exit"}
	err := ErrorFromStatus(ErrorToStatus(fmt.Errorf("on eth0: %w", pe)))
	var back *dispatcher.ProgramError
	if !errors.As(err, &back) || back.Program != "bad" || back.VerifierLog != pe.VerifierLog || !errors.Is(err, dispatcher.ErrLoad) {
		t.Errorf("a program error: %v (%+v)", err, back)
	}
	if err.Error() != `on eth0: program "bad": loading program: rejected` {
		t.Errorf("message %q", err.Error())
	}
	// An object with several XDP programs: the list crosses, for the
	// CLI to say how to choose.
	sp := &dispatcher.ProgramError{Program: "multi", Err: &dispatcher.SeveralProgramsError{Programs: []string{"a", "b"}}}
	err = ErrorFromStatus(ErrorToStatus(fmt.Errorf("on eth0: %w", sp)))
	var several *dispatcher.SeveralProgramsError
	if !errors.As(err, &several) || !reflect.DeepEqual(several.Programs, []string{"a", "b"}) || !errors.Is(err, dispatcher.ErrInvalid) || !errors.As(err, &back) || back.Program != "multi" {
		t.Errorf("several programs: %v (%+v)", err, several)
	}
	if err := ErrorFromStatus(ErrorToStatus(errors.New("plain"))); err.Error() != "plain" || errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("an error without a sentinel: %v", err)
	}
}

// TestRequestsCrossTheSocket: a LoadRequest, an Unload and a Detach arrive
// as they were sent.
func TestRequestsCrossTheSocket(t *testing.T) {
	prio, rev, shadow := 7, uint64(9), true
	ps, al := dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop), dispatcher.NewVerdictSet(dispatcher.Pass)
	ft := dispatcher.Drop
	load := chain.LoadRequest{
		Interface: chain.NewInterface("blue", "eth0"), Object: []byte("elf"), ProgramName: "f", Name: "n",
		Overrides: chain.Overrides{Priority: &prio, ProceedOn: &ps, Allowed: &al, Shadow: &shadow},
		Replace:   true, Force: true, Placement: chain.Placement{After: "x"}, ExpectedRevision: &rev,
		Mechanism: dispatcher.Linked, Fallthrough: &ft, Mode: dispatcher.ModeSKB, VerifierLog: true,
	}
	if got, err := LoadFromProto(LoadToProto(load)); err != nil || !reflect.DeepEqual(got, load) {
		t.Errorf("load:\n%+v\nwant\n%+v", got, load)
	}
	// The mode is parsed where it enters (dispatcher.ParseMode): an alias
	// a client sends is the mode, an unknown one refused.
	{
		req := LoadToProto(load)
		req.Mode = "generic"
		if got, err := LoadFromProto(req); err != nil || got.Mode != dispatcher.ModeSKB {
			t.Errorf("mode generic: %q, %v", got.Mode, err)
		}
		req.Mode = "turbo"
		if _, err := LoadFromProto(req); !errors.Is(err, dispatcher.ErrInvalid) || !strings.Contains(err.Error(), `unknown mode "turbo"`) {
			t.Errorf("mode turbo: %v", err)
		}
	}
	u := chain.Unload{Interface: chain.NewInterface("", "eth0"), Names: []string{"a"}, Force: true, ExpectedRevision: &rev}
	if got := UnloadFromProto(UnloadToProto(u)); !reflect.DeepEqual(got, u) {
		t.Errorf("unload: %+v", got)
	}
	d := chain.Detach{Interface: chain.NewInterface("/proc/1/ns/net", "eth0")}
	if got := DetachFromProto(DetachToProto(d)); !reflect.DeepEqual(got, d) {
		t.Errorf("detach: %+v", got)
	}
	l := &chain.Loaded{Name: "n", Owner: "user:0", Priority: 7, ProceedOn: ps, Allowed: al, Slot: 1, Programs: 2, Mechanism: dispatcher.Inline, Mode: dispatcher.ModeNative, Revision: 4, Changed: true}
	if got := LoadedFromProto(LoadedToProto(l)); !reflect.DeepEqual(got, l) {
		t.Errorf("loaded: %+v", got)
	}
}

// TestSeveralSentinelsCrossTheSocket: an error that wraps several sentinels
// keeps each of them (the CLI's hints read ErrForceable beside ErrOwned),
// and its message.
func TestSeveralSentinelsCrossTheSocket(t *testing.T) {
	local := chain.MayChange(chain.Actor{UID: 0}, "user:1000", false)
	if !errors.Is(local, chain.ErrOwned) || !errors.Is(local, chain.ErrForceable) {
		t.Fatalf("MayChange of another user's program as root: %v, want ErrOwned and ErrForceable", local)
	}
	for _, err := range []error{local, fmt.Errorf("%w: %w", dispatcher.ErrInvalid, chain.ErrNothingNamed)} {
		back := ErrorFromStatus(ErrorToStatus(err))
		if back.Error() != err.Error() {
			t.Errorf("message %q, want %q", back.Error(), err.Error())
		}
		for _, s := range sentinels {
			if errors.Is(err, s.err) != errors.Is(back, s.err) {
				t.Errorf("%v: errors.Is %s is %v locally, %v across the socket", err, s.name, errors.Is(err, s.err), errors.Is(back, s.err))
			}
		}
	}
}

// TestStatusCrossesTheSocket: every field of the daemon's status arrives as
// it was sent, as protobuf messages (no library type's JSON on the wire).
func TestStatusCrossesTheSocket(t *testing.T) {
	st := &Status{
		Config: "/etc/xdpchain/config.toml", SettingsSalt: "salt",
		Interfaces: []dispatcher.InterfaceStatus{{
			Name: "eth0", Ifindex: 3, NetNS: "blue", NetNSInode: 4026531840, Mode: dispatcher.ModeNative,
			Mechanism: dispatcher.Inline, MechanismReason: "why", LinkID: 7, DispatcherID: 8, Generation: 9, Revision: 10,
			Fallthrough: "pass", FallthroughPackets: 11, DeviceBound: true,
			Programs: []dispatcher.ProgramStatus{{
				Slot: 0, Name: "a", Priority: 10, ProceedOn: []string{"pass"}, Allowed: []string{"drop", "pass"}, Shadow: true,
				Program: "xdp_a", ProgramID: 12, Placement: "call", CallReason: "stack", XSKMap: "/sys/fs/bpf/x", AdoptedID: 13,
				Owner: "plugin:a", Version: "1.0", Object: "abc", AloneID: 14, DeviceBound: true,
				Stats: dispatcher.Stats{Aborted: 1, Drop: 2, Pass: 3, TX: 4, Redirect: 5, Invalid: 6, Denied: 7},
			}},
		}, {
			Name: "eth1", Mode: dispatcher.ModeSKB, Programs: []dispatcher.ProgramStatus{{Slot: 0, Name: "b", ProceedOn: []string{}}},
		}, {
			Ifindex: 5, NetNSInode: 6, LinkID: 1, DispatcherID: 2, Damaged: "state.json is missing", Programs: []dispatcher.ProgramStatus{},
			Foreign: &dispatcher.Instance{StateDir: "/run/other", ID: "id"},
		}},
		Plugins: []PluginStatus{{
			Name: "a", Interface: "blue/eth0", State: StateRunning, PID: 42, PIDNamespace: 4026531836, Version: "1.0",
			OnExit: "restart", Restarts: 2, Since: time.Unix(1700000000, 5), LastError: "e", Health: "h",
			Settings: map[string]any{"rate": float64(10), "names": []any{"x"}}, SecretSettings: []string{"key"},
		}, {Name: "b", Interface: "eth0", State: StateFailed}},
	}
	// The first interface and its program set every field (but the
	// damaged and foreign ones, which the third has), so that a field added
	// to the library's status and not to the wire fails here.
	requireAllSet(t, st.Interfaces[0], "Damaged", "Foreign")
	requireAllSet(t, st.Interfaces[0].Programs[0], "Slot")
	wire, err := StatusToProto(st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&controlpb.StatusResponse{Status: wire})
	if err != nil {
		t.Fatal(err)
	}
	var resp controlpb.StatusResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	back, err := StatusFromProto(&resp)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Errorf("status:\n%+v\nwant\n%+v", back, st)
	}
	if _, err := StatusFromProto(&controlpb.StatusResponse{}); err == nil {
		t.Error("a response without a status read without error")
	}
}

// requireAllSet fails t when a field of the struct v, other than those
// named in except, has its zero value.
func requireAllSet(t *testing.T, v any, except ...string) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		if slices.Contains(except, f.Name) {
			continue
		}
		if rv.Field(i).IsZero() {
			t.Errorf("%s.%s is not set in the test's status: set it, and carry it across the socket", rv.Type().Name(), f.Name)
		}
	}
}

// TestExplanationCrossesTheSocket: an explanation arrives as it was sent.
func TestExplanationCrossesTheSocket(t *testing.T) {
	ex := &dispatcher.Explanation{Verdict: "drop", DecidedBy: "b", Slots: []dispatcher.SlotExplanation{
		{Slot: 0, Name: "a", Verdict: "pass", Action: "continue"}, {Slot: 1, Name: "b", Verdict: "drop", Action: "return"}}}
	b, err := proto.Marshal(ExplanationToProto(ex))
	if err != nil {
		t.Fatal(err)
	}
	var resp controlpb.ExplainResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if back := ExplanationFromProto(&resp); !reflect.DeepEqual(back, ex) {
		t.Errorf("explanation:\n%+v\nwant\n%+v", back, ex)
	}
	empty := &dispatcher.Explanation{Verdict: "pass", DecidedBy: "(fall-through)", Slots: []dispatcher.SlotExplanation{}}
	if back := ExplanationFromProto(ExplanationToProto(empty)); !reflect.DeepEqual(back, empty) {
		t.Errorf("an empty chain's explanation: %+v", back)
	}
}

// TestObservationCrossesTheSocket: a probe, an event and a profile arrive
// as they were sent.
func TestObservationCrossesTheSocket(t *testing.T) {
	probe := dispatcher.Probe{Kind: dispatcher.ProbeCapture, Program: "a", At: dispatcher.AtOutput,
		Verdicts: dispatcher.NewVerdictSet(dispatcher.Drop), Snaplen: 128, Sample: 10, Programs: []string{"a", "b"}}
	if back := ProbeFromProto(roundTrip(t, ProbeToProto(probe))); !reflect.DeepEqual(back, probe) {
		t.Errorf("probe: %+v, want %+v", back, probe)
	}
	ev := dispatcher.Event{Kind: dispatcher.EventOutput, CPU: 1, Slot: 2, Program: "a", Verdict: dispatcher.Drop,
		ProceedOn: dispatcher.NewVerdictSet(dispatcher.Pass), Shadow: true, Last: true, Fallthrough: dispatcher.Pass,
		Len: 60, Data: []byte{1, 2, 3}, Time: time.Unix(1700000000, 123), Lost: 4}
	if back := EventFromProto(roundTrip(t, EventToProto(ev))); !reflect.DeepEqual(back, ev) {
		t.Errorf("event: %+v, want %+v", back, ev)
	}
	prof := &dispatcher.Profile{Duration: 1500 * time.Millisecond, Sample: 10, OneCopy: "stack",
		Programs: []dispatcher.ProgramProfile{{Name: "a", Slot: 0, Packets: 5, NsPerPacket: 12.5, P50: 10, P99: 30, Buckets: []uint64{0, 1, 4}}},
		Root:     dispatcher.ProgramProfile{Name: "(root)", Packets: 5, Buckets: []uint64{5}}}
	if back := ProfileFromProto(roundTrip(t, ProfileToProto(prof))); !reflect.DeepEqual(back, prof) {
		t.Errorf("profile: %+v, want %+v", back, prof)
	}
}

// roundTrip marshals m and reads it back, as the socket does.
func roundTrip[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	return back
}
