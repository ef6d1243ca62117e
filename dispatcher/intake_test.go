package dispatcher_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// newIntakeFixture is newFixture with names of its own (x9-).
func newIntakeFixture(t *testing.T, mech dispatcher.Mechanism) *fixture {
	t.Helper()
	return newPrefixedFixture(t, mech, "x9-")
}

// refused applies a change that must fail with an ErrLoad naming program
// and saying each of says, and checks that the chain is as before.
func refused(t *testing.T, r *dispatcher.Root, p dispatcher.Program, says ...string) *dispatcher.ProgramError {
	t.Helper()
	before := names(t, status(t, r))
	_, err := r.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, p)
		return nil
	})
	var pe *dispatcher.ProgramError
	if !errors.Is(err, dispatcher.ErrLoad) || !errors.As(err, &pe) || pe.Program != p.Name {
		t.Fatalf("loading %s: %v; want an ErrLoad naming %q", p.Name, err, p.Name)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if after := names(t, status(t, r)); !slices.Equal(after, before) {
		t.Errorf("the refused change left the chain %v, was %v", after, before)
	}
	return pe
}

// TestNoBTF: an object built without -g (no BTF, as iproute2's examples)
// loads with every mechanism when its program is one function (it gets its
// slot stub's function information) and serves traffic in the chain; one
// with a subprogram is refused at intake with an error that names it and
// says to build with clang -g, and the chain stays.
func TestNoBTF(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newIntakeFixture(t, mech)
		r := f.attach(t)
		nobtf, err := dispatcher.NewProgram("nobtf", testprogs.Object(testprogs.NoBTF), testprogs.Program(testprogs.NoBTF))
		if err != nil {
			t.Fatal(err)
		}
		add(t, r, nobtf, program(t, testprogs.DropPort, "dropport"))
		if got := names(t, status(t, r)); !slices.Equal(got, []string{"dropport", "nobtf"}) {
			t.Fatalf("chain %v", got)
		}
		f.expectServing(t)

		sub, err := dispatcher.NewProgram("sub", testprogs.Object(testprogs.NoBTF), testprogs.NoBTFSubprog)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, r, sub, `program "sub"`, "no BTF", "clang -g", "1 subprograms")
		f.expectServing(t)
	})
}

// TestTooComplex: a program the verifier refuses as too complex is
// reported with the verifier's own reason (not the library's "hit verifier
// bug, increase LogSizeStart"), its log is kept, and the chain stays.
func TestTooComplex(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newIntakeFixture(t, mech)
		r := f.attach(t)
		add(t, r, program(t, testprogs.DropPort, "dropport"))
		const reason = "The sequence of 8193 jumps is too complex"
		// Kernels differ in the errno (6.18: EFAULT, which the library
		// hides; Debian's 6.12: E2BIG, which it reports): either way the
		// error carries the verifier's own reason.
		pe := refused(t, r, program(t, testprogs.Complex, "complex"), `program "complex"`, reason)
		if strings.Contains(pe.Error(), "LogSizeStart") {
			t.Errorf("error %q still blames the library", pe)
		}
		if !strings.Contains(pe.VerifierLog, reason) || !strings.Contains(pe.VerifierLog, "processed ") {
			t.Errorf("the verifier's log (%d bytes) lacks its reason or statistics", len(pe.VerifierLog))
		}
		f.expectServing(t)
	})
}
