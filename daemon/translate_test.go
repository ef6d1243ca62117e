package daemon

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// TestErrorsCrossTheSocket: an error keeps its message, its sentinel and
// the program it names (with the verifier's log) through toStatus and
// fromStatus.
func TestErrorsCrossTheSocket(t *testing.T) {
	for _, s := range sentinels {
		err := fromStatus(toStatus(fmt.Errorf("doing it: %w", s.err)))
		if !errors.Is(err, s.err) || err.Error() != "doing it: "+s.err.Error() {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	pe := &dispatcher.ProgramError{Program: "bad", Err: fmt.Errorf("%w: rejected", dispatcher.ErrLoad), VerifierLog: "0: r0 = 1\n1: exit"}
	err := fromStatus(toStatus(fmt.Errorf("on eth0: %w", pe)))
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
	err = fromStatus(toStatus(fmt.Errorf("on eth0: %w", sp)))
	var several *dispatcher.SeveralProgramsError
	if !errors.As(err, &several) || !reflect.DeepEqual(several.Programs, []string{"a", "b"}) || !errors.Is(err, dispatcher.ErrInvalid) || !errors.As(err, &back) || back.Program != "multi" {
		t.Errorf("several programs: %v (%+v)", err, several)
	}
	if err := fromStatus(toStatus(errors.New("plain"))); err.Error() != "plain" || errors.Is(err, dispatcher.ErrInvalid) {
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
	if got := loadFromProto(loadToProto(load)); !reflect.DeepEqual(got, load) {
		t.Errorf("load:\n%+v\nwant\n%+v", got, load)
	}
	u := chain.Unload{Interface: chain.NewInterface("", "eth0"), Names: []string{"a"}, Force: true, ExpectedRevision: &rev}
	if got := unloadFromProto(unloadToProto(u)); !reflect.DeepEqual(got, u) {
		t.Errorf("unload: %+v", got)
	}
	d := chain.Detach{Interface: chain.NewInterface("/proc/1/ns/net", "eth0")}
	if got := detachFromProto(detachToProto(d)); !reflect.DeepEqual(got, d) {
		t.Errorf("detach: %+v", got)
	}
	l := &chain.Loaded{Name: "n", Owner: "user:0", Priority: 7, ProceedOn: ps, Allowed: al, Slot: 1, Programs: 2, Mechanism: dispatcher.Inline, Mode: dispatcher.ModeNative, Revision: 4, Changed: true}
	if got := loadedFromProto(loadedToProto(l)); !reflect.DeepEqual(got, l) {
		t.Errorf("loaded: %+v", got)
	}
}
