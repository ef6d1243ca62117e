package host

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/blocklist"
)

// TestEndToEndBlocklist puts a real blocklist plugin's program into a
// dispatcher on a veth in a test-created network namespace, configures the
// plugin with the maps the dispatcher pinned, and sends real traffic: the
// listed source is dropped, others pass, and a new prefix set takes effect
// without a chain swap.
func TestEndToEndBlocklist(t *testing.T) {
	bin := pluginBinary(t, "xdpchain-blocklist")
	nsA, nsB := testutil.NewNetNS(t), testutil.NewNetNS(t)
	pair := testutil.NewVethPair(t, nsA, nsB, nil)
	srcA := pair.A.Addr4()

	p := startPlugin(t, Options{
		Name:     "blocklist",
		Command:  bin,
		Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}},
	})

	opts := &dispatcher.Options{NetNS: nsB.Name, StateDir: t.TempDir()}
	root, err := dispatcher.Attach(pair.B.Name, opts)
	if err != nil {
		t.Fatalf("attaching dispatcher: %v", err)
	}
	t.Cleanup(func() {
		if err := root.Detach(); err != nil {
			t.Errorf("detach: %v", err)
		}
		root.Close()
	})
	prog := p.Program()
	if _, err := root.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, prog)
		return nil
	}); err != nil {
		t.Fatalf("adding the plugin's program: %v", err)
	}
	maps, err := root.ProgramMaps(prog.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(testContext(), maps); err != nil {
		t.Fatal(err)
	}
	st, err := root.Status()
	if err != nil {
		t.Fatal(err)
	}
	gen := st.Generation

	recv := testutil.ListenUDP(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
	send := func(n int) int {
		t.Helper()
		before := recv.Count()
		testutil.SendUDP(t, nsA, netip.AddrPortFrom(srcA, 0), recv.Addr(), n)
		return recv.Settle(200*time.Millisecond, 3*time.Second) - before
	}

	// A's address is not listed: everything arrives.
	if got := send(20); got != 20 {
		t.Fatalf("unlisted source: %d of 20 arrived", got)
	}

	// List A's address: nothing arrives, and the plugin's hit counter
	// (in the map the dispatcher pinned) counts the drops.
	if err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{"192.0.2.0/24", srcA.String() + "/32"}}); err != nil {
		t.Fatal(err)
	}
	if got := send(20); got != 0 {
		t.Errorf("listed source: %d of 20 arrived, want 0", got)
	}
	hits := pinnedHits(t, maps)
	if n := hits[netip.PrefixFrom(srcA, 32)]; n < 20 {
		t.Errorf("hits for %s: %d, want at least 20 (all: %v)", srcA, n, hits)
	}

	// Remove it again: traffic flows.
	if err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{"192.0.2.0/24"}}); err != nil {
		t.Fatal(err)
	}
	if got := send(20); got != 20 {
		t.Errorf("after unlisting: %d of 20 arrived", got)
	}

	st, err = root.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != gen {
		t.Errorf("settings changes swapped the chain: generation %d -> %d", gen, st.Generation)
	}
	if len(st.Programs) != 1 || st.Programs[0].Owner != "plugin:blocklist" || st.Programs[0].Version != blocklist.Version {
		t.Fatalf("status programs %+v", st.Programs)
	}
	if d := st.Programs[0].Stats.Drop; d < 20 {
		t.Errorf("dispatcher counted %d drops for the plugin, want at least 20", d)
	}

	// The plugin dies; its program keeps dropping what it was told to.
	if err := p.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{srcA.String()}}); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if got := send(10); got != 0 {
		t.Errorf("after the plugin exited: %d of 10 arrived, want 0", got)
	}
}

func pinnedHits(t *testing.T, pins map[string]string) map[netip.Prefix]uint64 {
	t.Helper()
	maps := map[string]*ebpf.Map{}
	for _, name := range []string{blocklist.MapV4, blocklist.MapV6, blocklist.MapHits} {
		m, err := ebpf.LoadPinnedMap(pins[name], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		maps[name] = m
	}
	return blocklistHits(t, maps)
}

// TestEndToEndChain runs both example plugins in one chain on a veth:
// blocklist (priority 10) first, then ratelimit (priority 20), and checks
// real traffic against both, with settings changed at run time.
func TestEndToEndChain(t *testing.T) {
	blBin := pluginBinary(t, "xdpchain-blocklist")
	rlBin := pluginBinary(t, "xdpchain-ratelimit")
	nsA, nsB := testutil.NewNetNS(t), testutil.NewNetNS(t)
	pair := testutil.NewVethPair(t, nsA, nsB, nil)
	srcA := pair.A.Addr4()

	bl := startPlugin(t, Options{Name: "blocklist", Command: blBin, Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}}})
	rl := startPlugin(t, Options{Name: "ratelimit", Command: rlBin, User: unprivileged, Settings: map[string]any{"rate_pps": 20, "burst": 10}})

	root, err := dispatcher.Attach(pair.B.Name, &dispatcher.Options{NetNS: nsB.Name, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("attaching dispatcher: %v", err)
	}
	t.Cleanup(func() {
		if err := root.Detach(); err != nil {
			t.Errorf("detach: %v", err)
		}
		root.Close()
	})
	if _, err := root.Update(func(s *dispatcher.Spec) error {
		s.Programs = append(s.Programs, rl.Program(), bl.Program())
		return nil
	}); err != nil {
		t.Fatalf("adding the plugins' programs: %v", err)
	}
	for _, p := range []*Plugin{bl, rl} {
		maps, err := root.ProgramMaps(p.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Configure(testContext(), maps); err != nil {
			t.Fatal(err)
		}
	}
	st, err := root.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Programs) != 2 || st.Programs[0].Name != "blocklist" || st.Programs[1].Name != "ratelimit" {
		t.Fatalf("chain order %+v", st.Programs)
	}

	recv := testutil.ListenUDP(t, nsB, netip.AddrPortFrom(pair.B.Addr4(), 0))
	send := func(n int) int {
		t.Helper()
		before := recv.Count()
		testutil.SendUDP(t, nsA, netip.AddrPortFrom(srcA, 0), recv.Addr(), n)
		return recv.Settle(200*time.Millisecond, 3*time.Second) - before
	}

	// 100 datagrams in a burst: about the bucket's 10 get through, plus
	// what 20 pps refill while they are sent.
	if got := send(100); got < 10 || got > 20 {
		t.Errorf("rate limited: %d of 100 arrived, want 10-20", got)
	}

	// Listed: the blocklist drops first, the rate limiter never sees them.
	if err := bl.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{srcA.String()}}); err != nil {
		t.Fatal(err)
	}
	before, err := root.Status()
	if err != nil {
		t.Fatal(err)
	}
	if got := send(30); got != 0 {
		t.Errorf("listed: %d of 30 arrived", got)
	}
	after, err := root.Status()
	if err != nil {
		t.Fatal(err)
	}
	if d := after.Programs[0].Stats.Drop - before.Programs[0].Stats.Drop; d != 30 {
		t.Errorf("blocklist dropped %d, want 30", d)
	}
	// The rate limiter may see the odd ARP or IPv6 neighbour packet, not
	// the 30 datagrams.
	if n := after.Programs[1].Stats.Total() - before.Programs[1].Stats.Total(); n >= 5 {
		t.Errorf("ratelimit saw %d packets while the blocklist dropped 30", n)
	}

	// Unlisted again and a generous rate (the unprivileged ratelimit
	// plugin writes its config through the broker): everything arrives.
	if err := bl.ConfigureSettings(testContext(), map[string]any{"prefixes": []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := rl.ConfigureSettings(testContext(), map[string]any{"rate_pps": 100000, "burst": 1000}); err != nil {
		t.Fatal(err)
	}
	if got := send(100); got != 100 {
		t.Errorf("generous rate: %d of 100 arrived", got)
	}
}
