package dispatcher_test

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestSwapUnderTraffic swaps dispatcher generations while UDP flows through
// the interface: every datagram must arrive (each generation passes
// everything, so a packet that met no chain, or a half-built one, would be
// missing), and the counters of a program present in every generation must
// see every datagram.
func TestSwapUnderTraffic(t *testing.T) {
	vmtest.LogWhere(t)
	for _, mech := range mechtest.Mechanisms {
		t.Run(string(mech), func(t *testing.T) {
			mechtest.Require(t, mech)
			testutil.RequireRoot(t)
			nsA, nsB := testutil.NewNetNS(t), testutil.NewNetNS(t)
			pair := testutil.NewVethPair(t, nsA, nsB, nil)
			r, err := dispatcher.Attach(pair.B.Name, &dispatcher.Options{NetNS: nsB.Name, Mechanism: mech, StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Detach(); r.Close() })

			counter := dispatcher.Program{Name: "always", Priority: 100, ProceedOn: dispatcher.NewVerdictSet(dispatcher.Pass),
				Object: testprogs.Object(testprogs.Counter), ProgramName: testprogs.Program(testprogs.Counter)}
			if err := r.Apply(dispatcher.Spec{Fallthrough: dispatcher.Pass, Mechanism: mech, Programs: dispatcher.Chain{counter}}); err != nil {
				t.Fatal(err)
			}
			rx := testutil.ListenUDP(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
			before := programStats(t, r, "always")

			// The sender keeps going until enough swaps happened under it,
			// however slow the machine (or the VM) is.
			const minSwaps, batch = 20, 100
			var swaps atomic.Int64
			stop := make(chan struct{})
			swapErr := make(chan error, 1)
			go func() {
				defer close(swapErr)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					// Alternate between one and two programs; the second
					// one passes too.
					_, err := r.Update(func(s *dispatcher.Spec) error {
						if i%2 == 0 {
							s.Programs = append(s.Programs, dispatcher.Program{Name: fmt.Sprintf("extra%d", i), Priority: 1,
								ProceedOn: dispatcher.NewVerdictSet(dispatcher.Pass), Object: testprogs.Object(testprogs.VerdictPass),
								ProgramName: testprogs.Program(testprogs.VerdictPass)})
						} else {
							s.Programs = dispatcher.Chain{counter}
						}
						return nil
					})
					if err != nil {
						swapErr <- err
						return
					}
					swaps.Add(1)
				}
			}()
			datagrams := 0
			deadline := time.Now().Add(60 * time.Second)
			for swaps.Load() < minSwaps && time.Now().Before(deadline) {
				testutil.SendUDP(t, nsA, netip.AddrPortFrom(pair.A.Addr4(), 0), rx.Addr(), batch)
				datagrams += batch
				time.Sleep(2 * time.Millisecond)
			}
			close(stop)
			if err := <-swapErr; err != nil {
				t.Fatal(err)
			}
			got := rx.WaitFor(datagrams, 10*time.Second)
			after := programStats(t, r, "always")
			t.Logf("%d datagrams through %d generation swaps; %d received; program counted %d", datagrams, swaps.Load(), got, after.Pass-before.Pass)
			if swaps.Load() < minSwaps {
				t.Errorf("only %d swaps happened during the traffic", swaps.Load())
			}
			if got != datagrams {
				t.Errorf("received %d of %d datagrams", got, datagrams)
			}
			if after.Pass-before.Pass < uint64(datagrams) {
				t.Errorf("the program present in every generation counted %d, want at least %d", after.Pass-before.Pass, datagrams)
			}
		})
	}
}

func programStats(tb testing.TB, r *dispatcher.Root, name string) dispatcher.Stats {
	tb.Helper()
	st, err := r.Status()
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range st.Programs {
		if p.Name == name {
			return p.Stats
		}
	}
	tb.Fatalf("no program %q", name)
	return dispatcher.Stats{}
}
