package dispatcher_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// nonXDPObject is the noop object with its section renamed from "xdp" to
// "tc": a valid BPF ELF whose only program is a SchedCLS program.
func nonXDPObject(t *testing.T) []byte {
	t.Helper()
	obj := bytes.ReplaceAll(testprogs.Object(testprogs.Noop), []byte("\x00xdp\x00"), []byte("\x00tc\x00\x00"))
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("non-XDP object: %v", err)
	}
	if p := cs.Programs["noop"]; p == nil || p.Type != ebpf.SchedCLS {
		t.Fatalf("non-XDP object: program noop is %v, want a SchedCLS program", p)
	}
	return obj
}

// errorCase is a change that must fail without touching the running chain.
type errorCase struct {
	name    string
	change  func(t *testing.T, s *dispatcher.Spec)
	want    error  // sentinel the error wraps
	program string // the program the error must name ("" if none)
	inMsg   string // text the message must contain
	log     bool   // a verifier log must come with it
}

func errorCases() []errorCase {
	obj := func(name string, object []byte, progName string) func(*testing.T, *dispatcher.Spec) {
		return func(t *testing.T, s *dispatcher.Spec) {
			s.Programs = append(s.Programs, dispatcher.Program{
				Name: name, Priority: 30, ProceedOn: dispatcher.DefaultProceedOn,
				Object: object, ProgramName: progName,
			})
		}
	}
	counter := testprogs.Object(testprogs.Counter)
	return []errorCase{
		{name: "garbage ELF", change: obj("garbage", []byte("this is not an ELF object"), ""), want: dispatcher.ErrLoad, program: "garbage"},
		{name: "truncated ELF", change: obj("truncated", counter[:len(counter)/2], "counter"), want: dispatcher.ErrLoad, program: "truncated"},
		{name: "empty object", change: obj("empty", nil, ""), want: dispatcher.ErrLoad, program: "empty"},
		{name: "no such program", change: obj("nosuch", counter, "no_such_func"), want: dispatcher.ErrLoad, program: "nosuch", inMsg: "no_such_func"},
		{name: "no XDP program", change: func(t *testing.T, s *dispatcher.Spec) {
			obj("tcprog", nonXDPObject(t), "")(t, s)
		}, want: dispatcher.ErrLoad, program: "tcprog", inMsg: "no XDP program"},
		{name: "not an XDP program", change: func(t *testing.T, s *dispatcher.Spec) {
			obj("tcprog", nonXDPObject(t), "noop")(t, s)
		}, want: dispatcher.ErrLoad, program: "tcprog", inMsg: "not XDP"},
		{name: "several XDP programs, none chosen", change: obj("multi", testprogs.Object(testprogs.Multi), ""), want: dispatcher.ErrInvalid, program: "multi"},
		{name: "verifier rejection", change: obj("bad", testprogs.Object(testprogs.Bad), "bad"), want: dispatcher.ErrLoad, program: "bad", log: true},
		{name: "too many programs", change: func(t *testing.T, s *dispatcher.Spec) {
			for i := len(s.Programs); i <= dispatcher.MaxPrograms; i++ {
				obj(fmt.Sprintf("noop%02d", i), testprogs.Object(testprogs.Noop), "noop")(t, s)
			}
		}, want: dispatcher.ErrInvalid, inMsg: "at most 64"},
		{name: "duplicate name", change: obj("counter", counter, "counter"), want: dispatcher.ErrInvalid, program: "counter", inMsg: "duplicate"},
		{name: "invalid name", change: obj("bad name!", counter, "counter"), want: dispatcher.ErrInvalid, program: "bad name!"},
		{name: "empty name", change: obj("", counter, "counter"), want: dispatcher.ErrInvalid},
		{name: "unknown proceed-on bit", change: func(t *testing.T, s *dispatcher.Spec) {
			obj("weird", counter, "counter")(t, s)
			s.Programs[len(s.Programs)-1].ProceedOn = 1 << 9
		}, want: dispatcher.ErrInvalid, program: "weird"},
		{name: "invalid fall-through", change: func(t *testing.T, s *dispatcher.Spec) {
			s.Fallthrough = 9
		}, want: dispatcher.ErrInvalid},
		{name: "unknown mechanism", change: func(t *testing.T, s *dispatcher.Spec) {
			s.Mechanism = "teleport"
		}, want: dispatcher.ErrInvalid},
	}
}

// TestErrorsLeaveChain applies every kind of broken change to a running
// counter+dropport chain: each fails with its error, names the program,
// and leaves the same dispatcher serving traffic as before.
func TestErrorsLeaveChain(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := baseline(t, f)
		before := status(t, r)
		pins := pinDirOf(f, before)

		for _, tc := range errorCases() {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.Update(func(s *dispatcher.Spec) error {
					tc.change(t, s)
					return nil
				})
				if err == nil {
					t.Fatal("the change succeeded")
				}
				t.Logf("error: %v", err)
				if !errors.Is(err, tc.want) {
					t.Errorf("error does not wrap %v", tc.want)
				}
				if tc.inMsg != "" && !strings.Contains(err.Error(), tc.inMsg) {
					t.Errorf("error does not say %q", tc.inMsg)
				}
				var pe *dispatcher.ProgramError
				if tc.program != "" {
					if !errors.As(err, &pe) || pe.Program != tc.program {
						t.Errorf("error names program %+v, want %q", pe, tc.program)
					}
					if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.program)) {
						t.Errorf("message does not name %q", tc.program)
					}
				}
				if tc.log && (pe == nil || pe.VerifierLog == "") {
					t.Errorf("no verifier log with Options.VerifierLogs set")
				}

				after := status(t, r)
				if after.DispatcherID != before.DispatcherID || after.Generation != before.Generation {
					t.Errorf("dispatcher %d generation %d, want %d %d unchanged", after.DispatcherID, after.Generation, before.DispatcherID, before.Generation)
				}
				if got, want := fmt.Sprint(names(t, after)), fmt.Sprint(names(t, before)); got != want {
					t.Errorf("chain %s, want %s", got, want)
				}
				if x := xdpOf(t, f.recv, f.iface()); x == nil || x.ProgId != before.DispatcherID {
					t.Errorf("netlink reports %+v, want dispatcher %d", x, before.DispatcherID)
				}
				entries, _ := os.ReadDir(filepath.Join(pins, "maps"))
				for _, e := range entries {
					if e.Name() != "counter" && e.Name() != "dropport" {
						t.Errorf("failed change left maps of %q pinned", e.Name())
					}
				}
				f.expectUDP(t, false, passPort, 3, true)
				f.expectUDP(t, false, dropPort, 3, false)
			})
		}

		// An error of the caller's function is returned as it is.
		sentinel := errors.New("changed my mind")
		_, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs = nil
			return sentinel
		})
		if err != sentinel {
			t.Errorf("Update returned %v, want the function's error", err)
		}
		f.expectServing(t)
		if got := status(t, r); got.DispatcherID != before.DispatcherID || len(got.Programs) != 2 {
			t.Errorf("after all errors: dispatcher %d with %v, want %d with [dropport counter]", got.DispatcherID, names(t, got), before.DispatcherID)
		}
	})
}

// TestVerifierLogOnRequest checks that a rejected program is named either
// way and that asking for the verifier log gives the full one (without
// asking, cilium/ebpf may still attach its short log).
func TestVerifierLogOnRequest(t *testing.T) {
	vmtest.LogWhere(t)
	f := newFixture(t, dispatcher.Linked)
	logs := map[bool]string{}
	for _, full := range []bool{false, true} {
		opts := f.opts()
		opts.VerifierLogs = full
		r, err := dispatcher.Attach(f.iface(), opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Update(func(s *dispatcher.Spec) error {
			s.Programs = append(s.Programs, program(t, testprogs.Bad, "broken"))
			return nil
		})
		r.Close()
		var pe *dispatcher.ProgramError
		if !errors.As(err, &pe) || pe.Program != "broken" || !errors.Is(err, dispatcher.ErrLoad) {
			t.Fatalf("VerifierLogs=%v: %v, want a ProgramError for \"broken\" wrapping ErrLoad", full, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error message spans several lines: %q", err)
		}
		logs[full] = pe.VerifierLog
	}
	if logs[true] == "" || len(logs[true]) < len(logs[false]) {
		t.Errorf("verifier log asked for: %d bytes, not asked for: %d bytes", len(logs[true]), len(logs[false]))
	}
	if !strings.Contains(logs[true], "outside of the packet") {
		t.Errorf("verifier log does not give the reason:\n%s", logs[true])
	}
}

// TestSeveralProgramsError: an object with several XDP programs and none
// named is refused with a typed error listing them, which names no command
// or flag of any front end (the CLI and the config add their own advice).
func TestSeveralProgramsError(t *testing.T) {
	_, err := dispatcher.NewProgram("multi", testprogs.Object(testprogs.Multi), "")
	var sp *dispatcher.SeveralProgramsError
	if !errors.As(err, &sp) || !errors.Is(err, dispatcher.ErrInvalid) {
		t.Fatalf("NewProgram of an object with several programs: %v, want a SeveralProgramsError", err)
	}
	if strings.Join(sp.Programs, " ") != "first second" {
		t.Errorf("programs %v, want [first second]", sp.Programs)
	}
	for _, cli := range []string{"--", "xdpchain", "program ="} {
		if strings.Contains(err.Error(), cli) {
			t.Errorf("the library's error names %q: %v", cli, err)
		}
	}
	if _, err := dispatcher.NewProgram("multi", testprogs.Object(testprogs.Multi), "second"); err != nil {
		t.Errorf("naming one: %v", err)
	}
}
