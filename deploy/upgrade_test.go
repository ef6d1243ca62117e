package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon/controlpb"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// listedRelease returns the newest release in deploy/releases.txt whose
// commit is an ancestor of head (and not head itself).
func listedRelease(t *testing.T, root, head string) (tag, commit string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "releases.txt"))
	if err != nil {
		t.Fatalf("no release tag (v*) before HEAD and no releases list: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(f[0], "#") || f[1] == head {
			continue
		}
		cmd := exec.Command("git", "merge-base", "--is-ancestor", f[1], head)
		cmd.Dir = root
		if cmd.Run() == nil {
			return f[0], f[1]
		}
	}
	t.Fatal("no release tag (v*) before HEAD, and no release in deploy/releases.txt is an ancestor of HEAD: tag the previous release (git tag -a v0.x.y COMMIT) and list it there")
	return "", ""
}

// previousRelease returns the newest release tag (v*) before HEAD and the
// xdpchain built from it (go build of `git archive TAG`, with the version
// linked in as its .deb would have it), cached in cacheDir by commit.
func previousRelease(t *testing.T) (tag, bin string) {
	t.Helper()
	root := repoRoot(t)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v (the upgrade test builds the previous release from the repository's tags)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	head := git("rev-parse", "HEAD")
	for _, tg := range strings.Fields(git("tag", "--list", "v[0-9]*", "--sort=-version:refname", "--merged", "HEAD")) {
		if git("rev-list", "-n1", tg) != head {
			tag = tg
			break
		}
	}
	var commit string
	if tag != "" {
		commit = git("rev-list", "-n1", tag)
	} else {
		// A clone without tags: the releases list names their commits.
		tag, commit = listedRelease(t, root, head)
	}
	bin = filepath.Join(cacheDir, fmt.Sprintf("xdpchain-%s-%s", tag, commit[:12]))
	if _, err := os.Stat(bin); err == nil {
		return tag, bin
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git archive "$1" | tar -x -C "$2"`, "sh", commit, src)
	archive.Dir = root
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", tag, err, out)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building %s (%s) into %s (cached)", tag, commit[:12], bin)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+strings.TrimPrefix(tag, "v"), "-o", bin+".tmp", "./cmd/xdpchain")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", tag, err, out)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		t.Fatal(err)
	}
	return tag, bin
}

// progCounts is a program's name and verdict counts from status --json.
type progCounts struct {
	Name  string
	Drop  uint64
	Pass  uint64
	Owner string
}

func chainOf(t *testing.T, bin string, args ...string) (linkID uint32, revision uint64, progs []progCounts) {
	t.Helper()
	out, errOut, err := testutil.RunXDPChain(t, bin, append(args, "--json")...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
	}
	var st []struct {
		LinkID   uint32 `json:"link_id"`
		Revision uint64 `json:"revision"`
		Programs []struct {
			Name  string `json:"name"`
			Owner string `json:"owner"`
			Stats struct {
				Drop uint64 `json:"drop"`
				Pass uint64 `json:"pass"`
			} `json:"stats"`
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		var one struct {
			Interfaces json.RawMessage `json:"interfaces"`
		}
		if json.Unmarshal([]byte(out), &one) != nil || json.Unmarshal(one.Interfaces, &st) != nil {
			t.Fatalf("status --json of %s: %v\n%s", filepath.Base(bin), err, out)
		}
	}
	if len(st) != 1 {
		t.Fatalf("status --json of %s: %d interfaces\n%s", filepath.Base(bin), len(st), out)
	}
	for _, p := range st[0].Programs {
		progs = append(progs, progCounts{Name: p.Name, Drop: p.Stats.Drop, Pass: p.Stats.Pass, Owner: p.Owner})
	}
	return st[0].LinkID, st[0].Revision, progs
}

// sameChain compares two reads of a chain: names, owners and drops exactly
// (only the test's datagrams are dropped), passes as counts that only grow
// (the interface's own traffic, IPv6 neighbour discovery, passes too).
func sameChain(later, earlier []progCounts) bool {
	if len(later) != len(earlier) {
		return false
	}
	for i := range later {
		a, b := later[i], earlier[i]
		if a.Name != b.Name || a.Owner != b.Owner || a.Drop != b.Drop || a.Pass < b.Pass {
			return false
		}
	}
	return true
}

func find(progs []progCounts, name string) progCounts {
	for _, p := range progs {
		if p.Name == name {
			return p
		}
	}
	return progCounts{}
}

// TestUpgradeFromPreviousRelease builds the previous release from its git
// tag and checks that what it wrote is read, adopted and changed by this
// build, with traffic flowing and counters kept, and that the previous
// release refuses to change what this build wrote (state format 2) rather
// than misread it: through the CLI on the pins, then with a daemon of each
// release in turn on one config.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	vmtest.LogWhere(t)
	if vmtest.InVM() {
		t.Skipf("skipped on %s: building the previous release needs git and the Go toolchain; the test runs on the host", vmtest.Where())
	}
	testutil.RequireRoot(t)
	tag, old := previousRelease(t)
	cur := testutil.XDPChainBinary(t)
	if v, _, err := testutil.RunXDPChain(t, old, "--version"); err != nil || !strings.Contains(v, strings.TrimPrefix(tag, "v")) {
		t.Fatalf("%s --version: %q (%v)", tag, v, err)
	}

	// The chain is on B in ns; datagrams come from A in client.
	ns := testutil.NewNetNSPrefix(t, "dep-upg-")
	client := testutil.NewNetNSPrefix(t, "dep-upc-")
	pair := testutil.NewVethPair(t, client, ns, nil)
	bpffs := testutil.PrivateBPFFS(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	paths := []string{"--bpffs", bpffs, "--state-dir", state, "--no-daemon"}
	objs := map[string]string{}
	for _, name := range []string{"dropport", "counter", "noop"} {
		p, err := testprogs.WriteFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		objs[name] = p
	}
	iface := pair.B.Name
	cli := func(bin string, args ...string) string {
		t.Helper()
		out, errOut, err := testutil.RunXDPChain(t, bin, append(append([]string{}, paths...), args...)...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	status := func(bin string) (uint32, uint64, []progCounts) {
		t.Helper()
		return chainOf(t, bin, append(append([]string{}, paths...), "status", "--netns", ns.Name, iface)...)
	}
	// UDP to port 9999 is dropped by dropport; to 7000 passes.
	traffic := func(port uint16, n int) {
		t.Helper()
		testutil.SendUDP(t, client, netip.AddrPort{}, netip.AddrPortFrom(pair.B.Addr4(), port), n)
	}

	// The previous release attaches the root and loads two programs.
	cli(old, "load", "--netns", ns.Name, iface, objs["dropport"])
	cli(old, "load", "--netns", ns.Name, "--after", "dropport", iface, objs["counter"])
	traffic(9999, 50)
	traffic(7000, 30)
	link0, rev0, before := status(old)

	// This build reads it: the same chain and counts.
	link1, rev1, now := status(cur)
	if link1 != link0 || rev1 != rev0 || !sameChain(now, before) {
		t.Fatalf("this build reads %s's root differently:\n%s: link %d rev %d %v\nthis:  link %d rev %d %v", tag, tag, link0, rev0, before, link1, rev1, now)
	}
	if d := find(now, "dropport").Drop; d < 50 {
		t.Errorf("dropport dropped %d, want at least 50", d)
	}
	// ... and changes it: a program added, the others' counters kept, the
	// same link (adopted, not re-attached), traffic still filtered.
	cli(cur, "load", "--netns", ns.Name, "--after", "counter", iface, objs["noop"])
	traffic(9999, 20)
	traffic(7000, 10)
	link2, rev2, after := status(cur)
	if link2 != link0 || rev2 <= rev0 {
		t.Errorf("after this build's change: link %d rev %d, want link %d and a revision after %d", link2, rev2, link0, rev0)
	}
	if got, want := find(after, "dropport").Drop, find(before, "dropport").Drop+20; got != want {
		t.Errorf("dropport's drops %d after 20 more, want %d (counters kept across the upgrade)", got, want)
	}
	if got, want := find(after, "counter").Pass, find(before, "counter").Pass+10; got < want {
		t.Errorf("counter's passes %d after 10 more, want at least %d", got, want)
	}
	if find(after, "noop").Name == "" {
		t.Errorf("noop not in the chain: %v", after)
	}
	// A downgrade: this build writes state format 2 (each packet counted
	// once, where it ends), which the previous release would misread, so
	// it refuses to change the root, and the chain runs on untouched.
	out, errOut, err := testutil.RunXDPChain(t, old, append(append([]string{}, paths...), "unload", "--netns", ns.Name, "--name", "noop", iface)...)
	if err == nil || !strings.Contains(out+errOut, "state version 2") {
		t.Errorf("%s unload on this build's root: %v, want a refusal naming state version 2:\n%s%s", tag, err, out, errOut)
	}
	if link3, rev3, again := status(cur); link3 != link2 || rev3 != rev2 || !sameChain(again, after) {
		t.Errorf("after %s's refused change: link %d rev %d %v, want link %d rev %d %v", tag, link3, rev3, again, link2, rev2, after)
	}
	t.Logf("%s on this build's root: %s", tag, strings.TrimSpace(errOut))
	cli(cur, "detach", "--netns", ns.Name, iface)

	// Daemons: the previous release's keeps the config's chain; this
	// build's adopts it without a swap, then applies a change.
	socket := filepath.Join(dir, "xdpchain.sock")
	conf := filepath.Join(dir, "config.toml")
	write := func(programs ...string) {
		t.Helper()
		src := fmt.Sprintf("[daemon]\nbpffs = %q\nstate_dir = %q\nsocket = %q\n\n[[interface]]\nname = %q\nnetns = %q\n", bpffs, state, socket, iface, ns.Name)
		for i, p := range programs {
			src += fmt.Sprintf("\n[[program]]\nname = %q\nobject = %q\ninterfaces = [%q]\npriority = %d\n", p, objs[p], iface, 10*(i+1))
		}
		if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon := func(bin string) (stop func()) {
		t.Helper()
		var logs testutil.Buffer
		cmd := exec.Command(bin, "run", "--config", conf)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			// The wire's Status call, which every release answers (the
			// status it carries changed form after v0.3.0).
			if conn, err := grpc.Dial("unix:"+socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
				_, serr := controlpb.NewControlClient(conn).Status(context.Background(), &controlpb.StatusRequest{})
				conn.Close()
				if serr == nil {
					break
				}
			}
			select {
			case err := <-exited:
				t.Fatalf("%s run exited: %v\n%s", filepath.Base(bin), err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s run: no answer on %s\n%s", filepath.Base(bin), socket, logs.String())
			}
		}
		stopped := false
		stop = func() {
			if stopped {
				return
			}
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			if err := <-exited; err != nil {
				t.Errorf("%s run after SIGTERM: %v\n%s", filepath.Base(bin), err, logs.String())
			}
		}
		t.Cleanup(stop)
		return stop
	}
	write("dropport", "counter")
	stopOld := startDaemon(old)
	traffic(9999, 40)
	traffic(7000, 25)
	stopOld()
	dlink0, drev0, dbefore := status(old)
	stopCur := startDaemon(cur)
	dlink1, drev1, dnow := status(cur)
	if dlink1 != dlink0 || drev1 != drev0 || !sameChain(dnow, dbefore) {
		t.Errorf("this build's daemon did not adopt %s's root as it was:\nbefore link %d rev %d %v\nafter  link %d rev %d %v", tag, dlink0, drev0, dbefore, dlink1, drev1, dnow)
	}
	write("dropport", "counter", "noop")
	if out, errOut, err := testutil.RunXDPChain(t, cur, "--config", conf, "reload"); err != nil {
		t.Fatalf("xdpchain reload: %v\n%s%s", err, out, errOut)
	}
	traffic(9999, 10)
	dlink2, _, dafter := status(cur)
	if dlink2 != dlink0 || find(dafter, "noop").Name == "" {
		t.Errorf("after the reload: link %d (want %d), chain %v", dlink2, dlink0, dafter)
	}
	if got, want := find(dafter, "dropport").Drop, find(dbefore, "dropport").Drop+10; got != want {
		t.Errorf("dropport's drops %d after 10 more, want %d (counters kept across the daemon upgrade)", got, want)
	}
	stopCur()
	t.Logf("%s -> this build -> %s: CLI and daemon, link %d kept, counters kept", tag, tag, dlink0)
	cli(cur, "detach", "--netns", ns.Name, iface)
}
