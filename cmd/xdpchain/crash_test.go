package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// TestDaemonCrashRestart kills the daemon with SIGKILL while UDP flows
// through its chain, starts a new one on the same config, and checks that
// traffic never noticed: every datagram arrived, the running dispatcher was
// never swapped (same program ID before, during and after), and the new
// daemon took the chain over as it was.
func TestDaemonCrashRestart(t *testing.T) {
	vmtest.LogWhere(t)
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	send, recv := testutil.NewNetNS(t), testutil.NewNetNS(t)
	pair := testutil.NewVethPair(t, send, recv, nil)
	testutil.AddNeighbours(t, pair)
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	if _, err := testprogs.WriteFile(dir, "counter"); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "xdpchain.sock")
	cfg := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n\n[[program]]\nname = \"counter\"\nobject = \"counter.o\"\ninterfaces = [%q]\n",
		bpffs, filepath.Join(dir, "state"), socket, pair.B.Name, recv.Name, pair.B.Name)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := &dispatcher.Options{NetNS: recv.Name, BPFFS: bpffs, StateDir: filepath.Join(dir, "state")}
	t.Cleanup(func() {
		if r, err := dispatcher.Open(pair.B.Name, opts); err == nil {
			r.Detach()
			r.Close()
		}
	})

	start := func() *exec.Cmd {
		t.Helper()
		os.Remove(socket)
		cmd := exec.Command(bin, "run", "--config", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(socket); err == nil {
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatal("the daemon did not create its socket")
			}
		}
	}
	dispatcherID := func() uint32 {
		t.Helper()
		r, err := dispatcher.Open(pair.B.Name, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		st, err := r.Status()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Programs) != 1 || st.Programs[0].Name != "counter" {
			t.Fatalf("chain %+v, want counter", st.Programs)
		}
		return st.DispatcherID
	}

	first := start()
	before := dispatcherID()

	rx := testutil.ListenUDP(t, recv, netip.AddrPortFrom(pair.B.Addr4(), 0))
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			testutil.SendUDP(t, send, netip.AddrPortFrom(pair.A.Addr4(), 0), rx.Addr(), 50)
			sent.Add(50)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	time.Sleep(200 * time.Millisecond)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	during := dispatcherID()
	time.Sleep(200 * time.Millisecond)
	start()
	time.Sleep(300 * time.Millisecond)
	after := dispatcherID()
	close(stop)
	<-done

	n := int(sent.Load())
	got := rx.WaitFor(n, 10*time.Second)
	t.Logf("%d datagrams across a SIGKILL of the daemon and a restart; %d received; dispatcher %d/%d/%d", n, got, before, during, after)
	if got != n {
		t.Errorf("received %d of %d datagrams", got, n)
	}
	if before != during || during != after {
		t.Errorf("the dispatcher changed: %d before the crash, %d after it, %d after the restart", before, during, after)
	}
}
