package daemon_test

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/client"
	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// rssKiB is this process's resident set size.
func rssKiB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// countFiles counts what is under dir: pins in a bpffs, files in a state
// directory.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSoakLoadUnload loads and unloads a program through the daemon's
// socket 1000 times (50 in the VMs, where one cycle takes a second) and
// compares, before and after, the descriptors the process holds (the
// daemon runs in it; programs, maps and links that are neither pinned nor
// held by a descriptor are gone), its resident memory, and the pins and
// state files.
func TestSoakLoadUnload(t *testing.T) {
	vmtest.LogWhere(t)
	cycles := 1000
	if vmtest.InVM() {
		cycles = 50
	}
	f := newFixture(t)
	f.writeConfig("", `
[[program]]
name = "count"
object = "counter.o"
interfaces = ["*"]
priority = 30
`)
	f.start(daemon.Options{})
	c, err := client.Dial(f.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	itf := chain.NewInterface(f.recv.Name, f.iface())
	cycle := func(i int) {
		t.Helper()
		prio := 100
		if _, err := c.Load(context.Background(), chain.LoadRequest{Interface: itf, Name: "soak", Overrides: chain.Overrides{Priority: &prio},
			Object: testprogs.Object(testprogs.Counter), ProgramName: testprogs.Program(testprogs.Counter)}); err != nil {
			t.Fatalf("cycle %d: load: %v", i, err)
		}
		if _, err := c.Unload(context.Background(), chain.Unload{Interface: itf, Names: []string{"soak"}}); err != nil {
			t.Fatalf("cycle %d: unload: %v", i, err)
		}
	}
	// Warm up: first-use allocations (gRPC, the ELF parser) are no leak.
	for i := range 5 {
		cycle(i)
	}
	runtime.GC()
	fdsBefore, err := testutil.OpenFDs()
	if err != nil {
		t.Fatal(err)
	}
	rssBefore, pinsBefore, filesBefore := rssKiB(t), countFiles(t, f.bpffs), countFiles(t, f.state)
	treeBefore := testutil.Tree(t, f.bpffs, f.state)
	start := time.Now()
	for i := range cycles {
		cycle(i)
	}
	took := time.Since(start)

	// Descriptors closed by other goroutines a moment later are no leak.
	var leaked []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		runtime.GC()
		fdsAfter, err := testutil.OpenFDs()
		if err != nil {
			t.Fatal(err)
		}
		if leaked = testutil.LeakedFDs(fdsBefore, fdsAfter); len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rssAfter, pinsAfter, filesAfter := rssKiB(t), countFiles(t, f.bpffs), countFiles(t, f.state)
	t.Logf("%d load/unload cycles through the daemon in %v (%v each): fds %d -> %d, RSS %d -> %d KiB, pins %d -> %d, state files %d -> %d",
		cycles, took.Round(time.Millisecond), (took / time.Duration(cycles)).Round(time.Microsecond), len(fdsBefore), len(fdsBefore)+len(leaked),
		rssBefore, rssAfter, pinsBefore, pinsAfter, filesBefore, filesAfter)
	if len(leaked) > 0 {
		t.Errorf("%d descriptors leaked over %d cycles: %v", len(leaked), cycles, leaked[:min(10, len(leaked))])
	}
	if treeAfter := testutil.Tree(t, f.bpffs, f.state); pinsAfter != pinsBefore || filesAfter != filesBefore {
		t.Errorf("pins %d -> %d, state files %d -> %d over %d cycles; new: %v, gone: %v", pinsBefore, pinsAfter, filesBefore, filesAfter, cycles,
			testutil.Missing(treeAfter, treeBefore), testutil.Missing(treeBefore, treeAfter))
	}
	// The Go heap may grow and stay grown; a leak per cycle of even 20 KiB
	// would show as 20 MB here.
	if grown := rssAfter - rssBefore; grown > 16*1024 {
		t.Errorf("resident memory grew by %d KiB over %d cycles", grown, cycles)
	}
	if got, want := f.chain(), "count(config:count)"; got != want {
		t.Errorf("chain %q, want %q", got, want)
	}
}
