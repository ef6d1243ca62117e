package dispatcher_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestFrags runs a root on a veth whose MTU needs multi-buffer (frags) XDP
// programs in native mode: the dispatcher declares frags only while every
// program is frags-aware, a program that is not is refused with an error
// naming it, and the running chain is untouched.
func TestFrags(t *testing.T) {
	mechtest.ForEach(t, func(t *testing.T, mech dispatcher.Mechanism) {
		testutil.RequireRoot(t)
		ns := testutil.NewNetNS(t)
		pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{MTU: 9000})
		opts := &dispatcher.Options{NetNS: ns.Name, Mode: dispatcher.ModeNative, Mechanism: mech,
			BPFFS: testutil.PrivateBPFFS(t), StateDir: t.TempDir()}
		r, err := dispatcher.Attach(pair.A.Name, opts)
		if err != nil {
			t.Fatalf("an empty root is frags-aware and attaches at MTU 9000: %v", err)
		}
		t.Cleanup(func() { r.Detach(); r.Close() })

		aware := program(t, testprogs.Noop, "aware")
		aware.Frags = true
		if _, err := r.Update(func(s *dispatcher.Spec) error {
			s.Programs = append(s.Programs, aware)
			return nil
		}); err != nil {
			t.Fatalf("a frags-aware program: %v", err)
		}
		before := status(t, r)

		plain := program(t, testprogs.Counter, "plain")
		_, err = r.Update(func(s *dispatcher.Spec) error {
			s.Programs = append(s.Programs, plain)
			return nil
		})
		if !errors.Is(err, dispatcher.ErrInvalid) || !strings.Contains(err.Error(), "plain") || !strings.Contains(err.Error(), "frags") {
			t.Fatalf("a program that is not frags-aware at MTU 9000: %v, want ErrInvalid naming it and frags", err)
		}
		after := status(t, r)
		if after.DispatcherID != before.DispatcherID || len(after.Programs) != 1 {
			t.Errorf("the refused change touched the chain: dispatcher %d -> %d, %d programs", before.DispatcherID, after.DispatcherID, len(after.Programs))
		}
	})
}
