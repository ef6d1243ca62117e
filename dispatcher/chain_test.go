package dispatcher_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func chainNames(c dispatcher.Chain) string {
	var out []string
	for _, p := range c {
		out = append(out, p.Name)
	}
	return strings.Join(out, " ")
}

func TestChainSort(t *testing.T) {
	c := dispatcher.Chain{
		{Name: "zeta", Priority: 10},
		{Name: "alpha", Priority: 10},
		{Name: "mid", Priority: 20},
		{Name: "beta", Priority: 5},
		{Name: "a-1", Priority: 20},
		{Name: "neg", Priority: -3},
	}
	const want = "neg beta alpha zeta a-1 mid"
	sorted := c.Sorted()
	if got := chainNames(sorted); got != want {
		t.Errorf("Sorted: %s, want %s", got, want)
	}
	if got := chainNames(c); got != "zeta alpha mid beta a-1 neg" {
		t.Errorf("Sorted changed its receiver: %s", got)
	}
	// The order is total: every permutation sorts the same.
	for i := range c {
		rot := append(append(dispatcher.Chain{}, c[i:]...), c[:i]...)
		rot.Sort()
		if got := chainNames(rot); got != want {
			t.Errorf("rotation %d sorts to %s", i, got)
		}
	}
	if i := sorted.Index("zeta"); i != 3 {
		t.Errorf("Index(zeta) = %d, want 3", i)
	}
	if i := sorted.Index("nope"); i != -1 {
		t.Errorf("Index(nope) = %d, want -1", i)
	}
}

func TestChainValidate(t *testing.T) {
	ok := dispatcher.Program{Name: "ok", Priority: 1, ProceedOn: dispatcher.DefaultProceedOn}
	long := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name    string
		chain   dispatcher.Chain
		program string // "" when the chain is fine
	}{
		{"valid", dispatcher.Chain{ok, {Name: "A_b-9", ProceedOn: dispatcher.AllVerdicts}}, ""},
		{"64 characters", dispatcher.Chain{{Name: long[:64]}}, ""},
		{"65 characters", dispatcher.Chain{{Name: long}}, long},
		{"space", dispatcher.Chain{{Name: "a b"}}, "a b"},
		{"slash", dispatcher.Chain{{Name: "a/b"}}, "a/b"},
		{"dot", dispatcher.Chain{{Name: "a.b"}}, "a.b"},
		{"duplicate", dispatcher.Chain{ok, ok}, "ok"},
		{"proceed-on bits", dispatcher.Chain{{Name: "p", ProceedOn: 1 << 5}}, "p"},
		{"allowed bits", dispatcher.Chain{{Name: "p", Allowed: 1 << 31}}, "p"},
		{"priority range", dispatcher.Chain{{Name: "p", Priority: 1 << 30}}, "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.chain.Validate()
			if tc.program == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *dispatcher.ProgramError
			if !errors.Is(err, dispatcher.ErrInvalid) || !errors.As(err, &pe) || pe.Program != tc.program {
				t.Errorf("Validate: %v, want ErrInvalid naming %q", err, tc.program)
			}
		})
	}
	var full dispatcher.Chain
	for i := range dispatcher.MaxPrograms + 1 {
		full = append(full, dispatcher.Program{Name: fmt.Sprintf("p%d", i)})
	}
	if err := full[:dispatcher.MaxPrograms].Validate(); err != nil {
		t.Errorf("64 programs: %v", err)
	}
	if err := full.Validate(); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("65 programs: %v, want ErrInvalid", err)
	}
}

// TestSlotOrder applies programs in scrambled order and checks that slots
// follow priority then name, in Status and in Spec, and that the order is
// the order packets see: counter before dropport counts the dropped
// packets, after it does not.
func TestSlotOrder(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		spec := dispatcher.Spec{Fallthrough: dispatcher.Pass}
		for _, p := range []struct {
			name string
			prio int
		}{{"zeta", 10}, {"alpha", 10}, {"mid", 20}, {"beta", 5}, {"a-1", 20}} {
			prog := program(t, testprogs.Noop, p.name)
			prog.Priority = p.prio
			spec.Programs = append(spec.Programs, prog)
		}
		if err := r.Apply(spec); err != nil {
			t.Fatal(err)
		}
		const want = "[beta alpha zeta a-1 mid]"
		if got := fmt.Sprint(names(t, status(t, r))); got != want {
			t.Errorf("Status slot order %s, want %s", got, want)
		}
		s, err := r.Spec()
		if err != nil {
			t.Fatal(err)
		}
		if got := "[" + chainNames(s.Programs) + "]"; got != want {
			t.Errorf("Spec order %s, want %s", got, want)
		}

		// Execution order on real traffic.
		c := program(t, testprogs.Counter, "count")
		c.Priority = 1
		d := program(t, testprogs.DropPort, "drop")
		d.Priority = 2
		if err := r.Apply(dispatcher.Spec{Fallthrough: dispatcher.Pass, Programs: dispatcher.Chain{d, c}}); err != nil {
			t.Fatal(err)
		}
		before := statsByName(t, r)
		f.expectUDP(t, false, dropPort, 10, false)
		after := statsByName(t, r)
		if got := after["count"].Pass - before["count"].Pass; got < 10 {
			t.Errorf("count runs first but saw %d of the 10 dropped datagrams", got)
		}
		if got := after["drop"].Drop - before["drop"].Drop; got != 10 {
			t.Errorf("drop dropped %d, want 10", got)
		}
		d.Priority = 0
		if err := r.Apply(dispatcher.Spec{Fallthrough: dispatcher.Pass, Programs: dispatcher.Chain{d, c}}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(t, status(t, r))); got != "[drop count]" {
			t.Fatalf("after reordering: %s", got)
		}
		before = statsByName(t, r)
		f.expectUDP(t, false, dropPort, 10, false)
		after = statsByName(t, r)
		if got := after["count"].Pass - before["count"].Pass; got >= 10 {
			t.Errorf("count runs after drop but saw %d packets, while the 10 datagrams were dropped", got)
		}
		if got := after["drop"].Drop - before["drop"].Drop; got != 10 {
			t.Errorf("drop dropped %d, want 10", got)
		}
	})
}

// TestSixtyFourPrograms fills every slot (the last with dropport, which
// must run for the drop port to be dropped), then refuses a 65th program
// and keeps the full chain.
func TestSixtyFourPrograms(t *testing.T) {
	vmtest.LogWhere(t)
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		f := newFixture(t, mech)
		r := f.attach(t)
		spec := dispatcher.Spec{Fallthrough: dispatcher.Pass}
		for i := range dispatcher.MaxPrograms - 1 {
			spec.Programs = append(spec.Programs, program(t, testprogs.Noop, fmt.Sprintf("noop%02d", i)))
		}
		last := program(t, testprogs.DropPort, "last")
		last.Priority = 1000
		spec.Programs = append(spec.Programs, last)
		if err := r.Apply(spec); err != nil {
			t.Fatalf("64 programs: %v", err)
		}
		st := status(t, r)
		if len(st.Programs) != dispatcher.MaxPrograms || st.Programs[63].Name != "last" || st.Programs[0].Name != "noop00" {
			t.Fatalf("64-program chain: %v", names(t, st))
		}
		f.expectUDP(t, false, dropPort, 5, false)
		f.expectUDP(t, true, passPort, 5, true)
		if got := status(t, r).Programs[63].Stats.Drop; got != 5 {
			t.Errorf("slot 63 dropped %d, want 5", got)
		}

		_, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs = append(s.Programs, program(t, testprogs.Noop, "one-too-many"))
			return nil
		})
		if !errors.Is(err, dispatcher.ErrInvalid) {
			t.Fatalf("65th program: %v, want ErrInvalid", err)
		}
		after := status(t, r)
		if after.DispatcherID != st.DispatcherID || len(after.Programs) != dispatcher.MaxPrograms {
			t.Errorf("after the refused 65th: dispatcher %d with %d programs, want %d with 64", after.DispatcherID, len(after.Programs), st.DispatcherID)
		}
		f.expectUDP(t, false, dropPort, 5, false)
		f.expectUDP(t, false, passPort, 5, true)
	})
}
