package dispatcher_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// TestUnprivilegedVerification: a program that writes a kernel address
// into the packet loads as root's, is refused as an unprivileged owner's
// with an error naming it, and the refused change leaves the chain as it
// was. Where slots share one kernel program (inline, linked), a root
// program that leaks is refused too once the chain holds an unprivileged
// owner's program, named as well; freplace programs are verified apart.
func TestUnprivilegedVerification(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		r := newSemanticsRoot(t, mech)
		apply := func(progs ...dispatcher.Program) error {
			return r.Apply(dispatcher.Spec{Mechanism: mech, Programs: progs})
		}
		leak := program(t, testprogs.Leak, "leak")
		if err := apply(leak); err != nil {
			t.Fatalf("root's leaking program must load (or this test proves nothing): %v", err)
		}
		if err := apply(); err != nil {
			t.Fatal(err)
		}

		user := program(t, testprogs.Noop, "user")
		user.Unprivileged = true
		if err := apply(user); err != nil {
			t.Fatalf("an unprivileged owner's harmless program: %v", err)
		}
		if got := runDispatcher(t, r, udpTo(9)); got != dispatcher.Pass {
			t.Errorf("verdict %s, want pass", got)
		}
		before := status(t, r).DispatcherID

		bad := leak
		bad.Unprivileged = true
		err := apply(user, bad)
		var pe *dispatcher.ProgramError
		if !errors.As(err, &pe) || pe.Program != "leak" || !errors.Is(err, dispatcher.ErrLoad) || !strings.Contains(err.Error(), "leaks addr") {
			t.Errorf("an unprivileged owner's leaking program: %v, want a load error naming leak and the pointer leak", err)
		}

		err = apply(user, leak)
		if mech == dispatcher.Freplace {
			if err != nil {
				t.Errorf("freplace: root's leaking program beside an unprivileged one: %v (each is its own kernel program)", err)
			}
		} else if !errors.As(err, &pe) || pe.Program != "leak" || !strings.Contains(err.Error(), "unprivileged") {
			t.Errorf("root's leaking program in a chain with an unprivileged owner's: %v, want an error naming leak and why", err)
		} else if got := status(t, r).DispatcherID; got != before {
			t.Errorf("a refused change swapped the dispatcher: %d -> %d", before, got)
		}
	})
}
