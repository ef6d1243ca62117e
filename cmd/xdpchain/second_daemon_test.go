package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestSecondDaemonRefused starts a daemon, then a second one with another
// config on the same socket and state: the second exits with an error
// saying another daemon runs, before it touches any chain, so the first
// daemon's chain keeps its dispatcher and generation.
func TestSecondDaemonRefused(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.XDPChainBinary(t)
	ns := testutil.NewNetNSPrefix(t, "xh-")
	pair := testutil.NewVethPair(t, ns, ns, &testutil.VethOptions{NameA: "xh-a1", NameB: "xh-b1"})
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	for _, name := range []string{"counter", "noop"} {
		if _, err := testprogs.WriteFile(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(dir, "xdpchain.sock")
	writeConfig := func(file, program string) string {
		path := filepath.Join(dir, file)
		src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n\n[[program]]\nname = %q\nobject = %q\ninterfaces = [%q]\n",
			bpffs, filepath.Join(dir, "state"), socket, pair.B.Name, ns.Name, program, program+".o", pair.B.Name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	first, second := writeConfig("first.toml", "counter"), writeConfig("second.toml", "noop")

	exited := startProcess(t, "first daemon", bin, "run", "--config", first).exited

	// chain is the interface as the first daemon reports it; nil until it
	// answers.
	chain := func() *dispatcher.InterfaceStatus {
		c, err := client.Dial(socket)
		if err != nil {
			return nil
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := c.Status(ctx, &chain.Interface{NetNS: ns.Name, Name: pair.B.Name})
		if err != nil || len(st.Interfaces) != 1 {
			return nil
		}
		return &st.Interfaces[0]
	}
	var before *dispatcher.InterfaceStatus
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if before = chain(); before != nil {
			break
		}
		select {
		case <-exited:
			t.Fatal("the first daemon exited")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timeout waiting for the first daemon to answer")
		}
	}
	if len(before.Programs) != 1 || before.Programs[0].Name != "counter" {
		t.Fatalf("the first daemon's chain: %+v", before.Programs)
	}

	_, errOut, err := testutil.RunXDPChain(t, bin, "run", "--config", second)
	if err == nil {
		t.Fatalf("a second daemon on the same socket ran and exited 0:\n%s", errOut)
	}
	if !strings.Contains(errOut, "another xdpchain daemon is running") || !strings.Contains(errOut, socket+".lock") {
		t.Errorf("the second daemon's error does not say another daemon holds %s.lock:\n%s", socket, errOut)
	}
	if strings.Contains(errOut, "config applied") || strings.Contains(errOut, "noop") {
		t.Errorf("the second daemon applied its config:\n%s", errOut)
	}

	after := chain()
	if after == nil {
		t.Fatal("the first daemon no longer answers")
	}
	if after.DispatcherID != before.DispatcherID || after.Generation != before.Generation || len(after.Programs) != 1 || after.Programs[0].Name != "counter" {
		t.Errorf("the first daemon's chain changed: dispatcher %d generation %d %+v, was dispatcher %d generation %d",
			after.DispatcherID, after.Generation, after.Programs, before.DispatcherID, before.Generation)
	}
}
