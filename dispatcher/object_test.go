package dispatcher

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// withoutXDP returns the noop object with its "xdp" section renamed "tc"
// (strings are changed in place, so every table stays consistent): an
// object whose only program is a SchedCLS one.
func withoutXDP(t *testing.T) []byte {
	t.Helper()
	obj := bytes.ReplaceAll(testprogs.Object(testprogs.Noop), []byte("xdp\x00"), []byte("tc\x00\x00"))
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("renamed object: %v", err)
	}
	if ps := cs.Programs["noop"]; ps == nil || ps.Type != ebpf.SchedCLS {
		t.Fatalf("renamed object: programs %v, want noop as SchedCLS", cs.Programs)
	}
	return obj
}

// probeObject is vmtest's probe object: two XDP programs and an extension.
// It is embedded, so the test also runs in the VMs.
func probeObject(t *testing.T) []byte {
	t.Helper()
	return vmtest.ProbeObject()
}

func TestObjectSpec(t *testing.T) {
	noXDP, probe := withoutXDP(t), probeObject(t)
	for _, tc := range []struct {
		name     string
		obj      []byte
		progName string
		want     string // program picked; empty: an error
		err      error
		msg      string
	}{
		{"only XDP program", testprogs.Object(testprogs.Noop), "", "noop", nil, ""},
		{"named", testprogs.Object(testprogs.Noop), "noop", "noop", nil, ""},
		{"second of two", testprogs.Object(testprogs.Multi), "second", "second", nil, ""},
		{"XDP among others", probe, "probe_count", "probe_count", nil, ""},
		{"no object", nil, "", "", ErrLoad, "no object"},
		{"not ELF", []byte("not an ELF object"), "", "", ErrLoad, `not an ELF object (it starts with "not an E")`},
		{"tiny", []byte("ab\n"), "", "", ErrLoad, "not an ELF object (3 bytes)"},
		{"truncated ELF", []byte("\x7fELF\x02\x01"), "", "", ErrLoad, "reading ELF object"},
		{"too large", append([]byte("\x7fELF"), make([]byte, MaxObjectSize)...), "", "", ErrLoad, "larger than the 16777216 allowed"},
		{"no XDP program", noXDP, "", "", ErrLoad, "no XDP program"},
		{"several, none chosen", testprogs.Object(testprogs.Multi), "", "", ErrInvalid, "[first second]"},
		{"several XDP and an extension", probe, "", "", ErrInvalid, "[probe_count probe_target]"},
		{"missing program", testprogs.Object(testprogs.Multi), "third", "", ErrLoad, `no program "third" (XDP programs: [first second])`},
		{"extension", probe, "probe_ext", "", ErrLoad, `"probe_ext" is Extension (section "freplace/probe_slot"), not XDP`},
		{"classifier", noXDP, "noop", "", ErrLoad, "not XDP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ps, err := objectSpec(tc.obj, tc.progName)
			if tc.want == "" {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %v, want %v containing %q", err, tc.err, tc.msg)
				}
				if cs != nil || ps != nil {
					t.Error("specs returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ps.Name != tc.want || ps.Type != ebpf.XDP || cs.Programs[tc.want] != ps {
				t.Errorf("picked %s (%s), want XDP program %s of the collection", ps.Name, ps.Type, tc.want)
			}
		})
	}
}

func TestNewProgramFromObject(t *testing.T) {
	obj := testprogs.Object(testprogs.RunConfig)
	p, err := NewProgram("", obj, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Program{
		Name: "runconfig", ProgramName: "runconfig", Object: obj,
		Priority: testprogs.RunConfigPriority, ProceedOn: NewVerdictSet(Pass, Drop),
	}
	if !equalPrograms(p, want) {
		t.Errorf("got %+v, want %+v", p, want)
	}
	// Without metadata: libxdp's defaults; the name given is kept.
	p, err = NewProgram("mine", testprogs.Object(testprogs.Noop), "noop")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mine" || p.ProgramName != "noop" || p.Priority != DefaultPriority || p.ProceedOn != DefaultProceedOn || p.Frags {
		t.Errorf("noop: %+v", p)
	}

	// Errors name the program by the best label there is.
	var pe *ProgramError
	for _, tc := range []struct{ name, progName, label string }{
		{"x", "", "x"},
		{"", "fn", "fn"},
		{"x", "fn", "x"},
	} {
		_, err := NewProgram(tc.name, []byte("junk"), tc.progName)
		if !errors.As(err, &pe) || pe.Program != tc.label || !errors.Is(err, ErrLoad) {
			t.Errorf("NewProgram(%q, junk, %q): %v, want a ProgramError for %q", tc.name, tc.progName, err, tc.label)
		}
	}
	if _, err := NewProgram("", []byte("junk"), ""); errors.As(err, &pe) || !errors.Is(err, ErrLoad) {
		t.Errorf("unnamed junk: %v, want a plain ErrLoad", err)
	}
}

func equalPrograms(a, b Program) bool {
	if !bytes.Equal(a.Object, b.Object) {
		return false
	}
	a.Object, b.Object = nil, nil
	return a.Name == b.Name && a.ProgramName == b.ProgramName && a.Priority == b.Priority &&
		a.ProceedOn == b.ProceedOn && a.Allowed == b.Allowed && a.Shadow == b.Shadow && a.Frags == b.Frags &&
		a.Owner == b.Owner && a.Version == b.Version
}
