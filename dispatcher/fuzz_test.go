package dispatcher

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// The fuzz targets of the parsers that read untrusted bytes: objects
// (NewProgram), their .xdp_run_config metadata and the state files. Their
// seed corpora are in testdata/fuzz/FuzzXxx; without -fuzz, `go test` runs
// each over its seeds only (scripts/fuzz.sh fuzzes them for a while). None
// needs root or touches the kernel.

// FuzzNewProgram is object intake: any bytes either give a program that
// names an XDP function of the object, or a *ProgramError wrapping ErrLoad
// or ErrInvalid. Never a panic.
func FuzzNewProgram(f *testing.F) {
	f.Add([]byte{}, "")
	f.Add([]byte("\x7fELF"), "")
	f.Fuzz(func(t *testing.T, obj []byte, progName string) {
		p, err := NewProgram("fuzz", obj, progName)
		if err != nil {
			var pe *ProgramError
			if !errors.As(err, &pe) || pe.Program != "fuzz" {
				t.Fatalf("error %q (%T) does not name the program", err, err)
			}
			if !errors.Is(err, ErrLoad) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q wraps neither ErrLoad nor ErrInvalid", err)
			}
			return
		}
		if p.ProgramName == "" || (progName != "" && p.ProgramName != progName) {
			t.Fatalf("program %q from request %q", p.ProgramName, progName)
		}
		if p.ProceedOn&^AllVerdicts != 0 {
			t.Fatalf("proceed-on %#x has unknown bits", uint32(p.ProceedOn))
		}
		if p.Priority < MinPriority || p.Priority > MaxPriority {
			t.Fatalf("priority %d outside [%d, %d]", p.Priority, MinPriority, MaxPriority)
		}
	})
}

// FuzzParseRunConfig is the .xdp_run_config parser on any BTF (raw BTF
// blobs; the seeds are the BTF of test objects, with and without the
// section).
func FuzzParseRunConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, fn string) {
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
		if err != nil {
			return
		}
		rc, err := ParseRunConfig(spec, fn)
		if err != nil {
			if !strings.Contains(err.Error(), runConfigSection) {
				t.Fatalf("error %q does not name %s", err, runConfigSection)
			}
			return
		}
		if rc.ProceedOn != nil && *rc.ProceedOn&^AllVerdicts != 0 {
			t.Fatalf("proceed-on %#x has unknown bits", uint32(*rc.ProceedOn))
		}
		if rc.Priority != nil && (*rc.Priority < MinPriority || *rc.Priority > MaxPriority) {
			t.Fatalf("priority %d outside [%d, %d]", *rc.Priority, MinPriority, MaxPriority)
		}
	})
}

// FuzzReadState is the state-file reader: any content of state.json gives
// a state every later use can rely on (see state.check), or an error.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"programs":[]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := readState(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := st.check(); err != nil {
			t.Fatalf("readState returned a state that fails its check: %v", err)
		}
		if len(st.Programs) > MaxPrograms {
			t.Fatalf("%d programs", len(st.Programs))
		}
		names := map[string]bool{}
		for _, ps := range st.Programs {
			if !nameRE.MatchString(ps.Name) || names[ps.Name] {
				t.Fatalf("program name %q bad or repeated", ps.Name)
			}
			names[ps.Name] = true
			if filepath.Base(ps.Name) != ps.Name {
				t.Fatalf("program name %q is a path", ps.Name)
			}
			if ps.Counter > maxCounters {
				t.Fatalf("counter %d beyond %d", ps.Counter, maxCounters)
			}
			_ = rowStats(rowsOf(make([]dispatcherXdpchainCounters, 1)), ps.Counter)
		}
	})
}
