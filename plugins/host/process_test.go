package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/internal/bpffstest"
	"github.com/xdpchain/xdpchain/plugins/internal/plugintest"
	"github.com/xdpchain/xdpchain/plugins/sdk"
	"github.com/xdpchain/xdpchain/xdp"
)

func testContext() context.Context { return context.Background() }

// unprivileged runs a plugin as nobody, by number: the VM's initramfs has
// no user database.
const unprivileged = "65534:65534"

// startPlugin starts a plugin process and kills it when the test ends.
func startPlugin(t *testing.T, opts Options) *Plugin {
	t.Helper()
	testutil.RequireRoot(t)
	p, err := Start(testContext(), opts)
	if err != nil {
		t.Fatalf("starting %s: %v", opts.Command, err)
	}
	t.Cleanup(p.Kill)
	return p
}

// loadDescribed creates the maps of a plugin's object, pins them in a
// private bpffs directory and loads its program standalone on those maps,
// as the daemon would put it into a chain.
func loadDescribed(t *testing.T, d Description) (*ebpf.Program, map[string]*ebpf.Map, map[string]string) {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(d.Object))
	if err != nil {
		t.Fatal(err)
	}
	dir := bpffstest.Dir(t)
	maps := map[string]*ebpf.Map{}
	pins := map[string]string{}
	for name, ms := range spec.Maps {
		m, err := ebpf.NewMap(ms)
		if err != nil {
			t.Fatalf("creating map %s: %v", name, err)
		}
		t.Cleanup(func() { m.Close() })
		pins[name] = filepath.Join(dir, name)
		if err := m.Pin(pins[name]); err != nil {
			t.Fatal(err)
		}
		maps[name] = m
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: maps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(coll.Close)
	prog := coll.Programs[d.ProgramName]
	if prog == nil {
		t.Fatalf("no program %s in the object", d.ProgramName)
	}
	return prog, maps, pins
}

func verdict(t *testing.T, prog *ebpf.Program, pkt []byte) xdp.Verdict {
	t.Helper()
	ret, err := prog.Run(&ebpf.RunOptions{Data: pkt})
	if err != nil {
		t.Fatal(err)
	}
	return xdp.Verdict(ret)
}

func blocklistHits(t *testing.T, maps map[string]*ebpf.Map) map[netip.Prefix]uint64 {
	t.Helper()
	sm, err := sdk.NewMaps(maps)
	if err != nil {
		t.Fatal(err)
	}
	v4, _ := sm.Map(blocklist.MapV4)
	v6, _ := sm.Map(blocklist.MapV6)
	hits, _ := sm.Map(blocklist.MapHits)
	out, err := blocklist.ReadHits(v4, v6, hits)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProcessBlocklist(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	for _, access := range []MapAccess{MapAccessDirect, MapAccessBroker} {
		t.Run(string(access), func(t *testing.T) {
			p := startPlugin(t, Options{
				Name:      "blocklist",
				Command:   bin,
				MapAccess: access,
				Settings:  map[string]any{"prefixes": []string{"192.0.2.0/24", "2001:db8::/32"}},
			})
			d := p.Description()
			if d.Name != "blocklist" || d.Version != blocklist.Version || !bytes.Equal(d.Object, blocklist.Object()) {
				t.Fatalf("description %+v", d)
			}
			if prog := p.Program(); prog.Owner != "plugin:blocklist" || prog.Priority != 10 || prog.ProgramName != blocklist.ProgramName {
				t.Errorf("program %+v", prog)
			}
			prog, maps, pins := loadDescribed(t, d)
			if err := p.Configure(testContext(), pins); err != nil {
				t.Fatal(err)
			}
			if err := p.Health(testContext()); err != nil {
				t.Errorf("health: %v", err)
			}
			for src, want := range map[string]xdp.Verdict{"192.0.2.1": xdp.Drop, "192.0.3.1": xdp.Pass, "2001:db8::7": xdp.Drop, "2001:db9::7": xdp.Pass} {
				if got := verdict(t, prog, plugintest.UDPFrom(src)); got != want {
					t.Errorf("%s: verdict %d, want %d", src, got, want)
				}
			}

			// New settings (SIGHUP): the maps change, the program does not.
			if err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{"2001:db8::/32", "198.51.100.0/24"}}); err != nil {
				t.Fatal(err)
			}
			for src, want := range map[string]xdp.Verdict{"192.0.2.1": xdp.Pass, "198.51.100.1": xdp.Drop, "2001:db8::7": xdp.Drop} {
				if got := verdict(t, prog, plugintest.UDPFrom(src)); got != want {
					t.Errorf("after new settings: %s: verdict %d, want %d", src, got, want)
				}
			}
			hits := blocklistHits(t, maps)
			if hits[netip.MustParsePrefix("2001:db8::/32")] != 2 || hits[netip.MustParsePrefix("198.51.100.0/24")] != 1 || len(hits) != 2 {
				t.Errorf("hits %v", hits)
			}

			// Bad settings are refused with the plugin's reason.
			err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{"192.0.2.0/33"}})
			if !errors.Is(err, ErrConfigure) || !strings.Contains(err.Error(), "192.0.2.0/33") {
				t.Errorf("bad settings: %v", err)
			}

			// The program keeps working after the plugin is gone.
			p.Kill()
			if got := verdict(t, prog, plugintest.UDPFrom("198.51.100.1")); got != xdp.Drop {
				t.Errorf("after kill: verdict %d, want drop", got)
			}
		})
	}
}

func TestProcessRatelimit(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-ratelimit")
	p := startPlugin(t, Options{Name: "rl", Command: bin, Settings: map[string]any{"rate_pps": 1, "burst": 3}})
	prog, _, pins := loadDescribed(t, p.Description())
	if err := p.Configure(testContext(), pins); err != nil {
		t.Fatal(err)
	}
	pkt := plugintest.UDPFrom("192.0.2.1")
	passed := 0
	for range 10 {
		if verdict(t, prog, pkt) == xdp.Pass {
			passed++
		}
	}
	if passed != 3 {
		t.Errorf("%d of 10 passed, want the burst of 3", passed)
	}
	if err := p.ConfigureSettings(testContext(), map[string]any{"rate_pps": 0}); !errors.Is(err, ErrConfigure) {
		t.Errorf("rate 0: %v", err)
	}
}

// TestProcessUnprivileged runs the plugin as nobody: it cannot open its
// pins, so every map operation goes through the broker.
func TestProcessUnprivileged(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	p := startPlugin(t, Options{
		Name:     "blocklist",
		Command:  bin,
		User:     unprivileged,
		Settings: map[string]any{"prefixes": []string{"203.0.113.0/24"}},
	})
	uid := processUID(t, p.Pid())
	if uid != "65534" {
		t.Fatalf("plugin runs as uid %s, want nobody (65534)", uid)
	}
	prog, _, pins := loadDescribed(t, p.Description())
	if err := p.Configure(testContext(), pins); err != nil {
		t.Fatal(err)
	}
	if got := verdict(t, prog, plugintest.UDPFrom("203.0.113.1")); got != xdp.Drop {
		t.Errorf("verdict %d, want drop", got)
	}
	if err := p.Health(testContext()); err != nil {
		t.Errorf("health: %v", err)
	}

	// Forcing direct access fails: nobody cannot open the pins.
	p2 := startPlugin(t, Options{Name: "direct", Command: bin, User: unprivileged, MapAccess: MapAccessDirect})
	err := p2.Configure(testContext(), pins)
	if !errors.Is(err, ErrConfigure) {
		t.Errorf("direct access as nobody: %v", err)
	}
	t.Log(err)
}

func processUID(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 1 && fields[0] == "Uid:" {
			return fields[1]
		}
	}
	t.Fatalf("no Uid line for pid %d", pid)
	return ""
}

func TestProcessChecksum(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-ratelimit")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])
	p := startPlugin(t, Options{Name: "rl", Command: bin, SHA256: strings.ToUpper(good)})
	p.Kill()

	sum[0] ^= 0xff
	bad := hex.EncodeToString(sum[:])
	_, err = Start(testContext(), Options{Name: "rl", Command: bin, SHA256: bad})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("wrong sha256: %v", err)
	}
	t.Log(err)

	_, err = Start(testContext(), Options{Name: "rl", Command: bin, SHA256: "abc"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("malformed sha256: %v", err)
	}
}

func TestProcessHandshakeMismatch(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := Start(testContext(), helperOptions("cookie", "badcookie"))
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "This binary is a plugin") {
		t.Errorf("wrong cookie: %v", err)
	}
	t.Log(err)

	_, err = Start(testContext(), helperOptions("version", "badversion"))
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "version") {
		t.Errorf("wrong protocol version: %v", err)
	}
	t.Log(err)
}

func TestProcessStartTimeout(t *testing.T) {
	testutil.RequireRoot(t)
	opts := helperOptions("hang", "hang")
	opts.StartTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Start(testContext(), opts)
	if !errors.Is(err, ErrStartTimeout) {
		t.Fatalf("hanging plugin: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s", d)
	}
	t.Log(err)
}

func TestProcessExitsBeforeHandshake(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := Start(testContext(), helperOptions("exit", "exit"))
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "feed.json") {
		t.Fatalf("exiting plugin: %v", err)
	}
	t.Log(err)

	_, err = Start(testContext(), Options{Name: "missing", Command: "/nonexistent/xdpchain-plugin"})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("missing binary: %v", err)
	}
}

func TestProcessCrash(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	p := startPlugin(t, Options{Name: "blocklist", Command: bin, Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}}})
	prog, _, pins := loadDescribed(t, p.Description())
	if err := p.Configure(testContext(), pins); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("crash not detected")
	}
	if err := p.Health(testContext()); !errors.Is(err, ErrExited) {
		t.Errorf("health after crash: %v", err)
	}
	if err := p.Configure(testContext(), pins); !errors.Is(err, ErrExited) {
		t.Errorf("configure after crash: %v", err)
	}
	// The program and its maps are untouched.
	if got := verdict(t, prog, plugintest.UDPFrom("192.0.2.9")); got != xdp.Drop {
		t.Errorf("after crash: verdict %d, want drop", got)
	}
}

// TestProcessRequests: a plugin process asks the daemon to replace its
// program, through the Host service on the broker.
func TestProcessRequests(t *testing.T) {
	testutil.RequireRoot(t)
	p := startPlugin(t, helperOptions("probe", "probe"))
	for _, tc := range []struct {
		version string
		reply   error
		want    string
	}{
		{"2.0.0", errors.New("verifier rejected xdp_blocklist"), "request 2.0.0: requesting replace: request refused by the daemon: verifier rejected xdp_blocklist"},
		{"3.0.0", nil, "request 3.0.0: accepted"},
	} {
		if err := p.ConfigureSettings(testContext(), map[string]any{"ask": tc.version}); err != nil {
			t.Fatal(err)
		}
		var r *Request
		select {
		case r = <-p.Requests():
		case <-time.After(5 * time.Second):
			t.Fatal("no request from the plugin")
		}
		if r.Kind != RequestReplace || r.Version != tc.version || !bytes.Equal(r.Object, blocklist.Object()) {
			t.Fatalf("request %+v", r)
		}
		r.Reply(tc.reply)
		// The probe reports the outcome as its health.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := p.Health(testContext())
			if err != nil && strings.Contains(err.Error(), tc.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("plugin did not see the answer: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if p.Program().Version != "3.0.0" {
		t.Errorf("version after accepted replace: %q", p.Program().Version)
	}
}

func TestCleanupAll(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-ratelimit")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=cleanup", "XDPCHAIN_HOST_TEST_PLUGIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var pid int
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "PID "); ok {
			pid, _ = strconv.Atoi(rest)
		}
	}
	if pid == 0 || !strings.Contains(string(out), "DONE") {
		t.Fatalf("helper output:\n%s", out)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin %d still there after CleanupAll: %v", pid, err)
	}
}

// TestProcessTwoInterfaces: one plugin process, its program on two
// interfaces, each with its own maps; new settings reach both.
func TestProcessTwoInterfaces(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	p := startPlugin(t, Options{Name: "blocklist", Command: bin, MapAccess: MapAccessBroker,
		Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}}})
	progA, mapsA, pinsA := loadDescribed(t, p.Description())
	progB, mapsB, pinsB := loadDescribed(t, p.Description())
	if err := p.ConfigureInterfaces(testContext(), map[string]map[string]string{"eth0": pinsA, "eth1": pinsB}); err != nil {
		t.Fatal(err)
	}
	for name, prog := range map[string]*ebpf.Program{"eth0": progA, "eth1": progB} {
		if got := verdict(t, prog, plugintest.UDPFrom("192.0.2.1")); got != xdp.Drop {
			t.Errorf("%s: verdict %d, want drop", name, got)
		}
	}
	verdict(t, progB, plugintest.UDPFrom("192.0.2.2"))
	if err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{"198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
	for name, prog := range map[string]*ebpf.Program{"eth0": progA, "eth1": progB} {
		if got := verdict(t, prog, plugintest.UDPFrom("192.0.2.1")); got != xdp.Pass {
			t.Errorf("%s: old prefix: verdict %d, want pass", name, got)
		}
		if got := verdict(t, prog, plugintest.UDPFrom("198.51.100.1")); got != xdp.Drop {
			t.Errorf("%s: new prefix: verdict %d, want drop", name, got)
		}
	}
	// Each interface counts its own drops.
	if h := blocklistHits(t, mapsA)[netip.MustParsePrefix("198.51.100.0/24")]; h != 1 {
		t.Errorf("eth0 hits %d, want 1", h)
	}
	if h := blocklistHits(t, mapsB)[netip.MustParsePrefix("198.51.100.0/24")]; h != 1 {
		t.Errorf("eth1 hits %d, want 1", h)
	}
}

// TestPluginRunByHand: a plugin binary started without the daemon says so.
func TestPluginRunByHand(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	out, err := exec.Command(bin).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "This binary is a plugin") {
		t.Errorf("run by hand: %v\n%s", err, out)
	}
}
