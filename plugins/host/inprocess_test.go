package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/internal/bpffstest"
	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// probe is a plugin for the adapter tests: it records what it is given
// and fails on demand.
type probe struct {
	mu        sync.Mutex
	desc      sdk.Description
	settings  []byte
	maps      *sdk.Maps
	host      *sdk.Host
	configs   int
	unhealthy error
}

func (p *probe) Describe() sdk.Description { return p.desc }

func (p *probe) Configure(_ context.Context, s sdk.Settings, maps *sdk.Maps, host *sdk.Host) error {
	var v struct {
		Fail string `json:"fail"`
		// Ask makes the plugin send a replace request from a goroutine,
		// as a plugin that fetched a new object would.
		Ask string `json:"ask"`
		// Log makes the plugin log it in every way a plugin can.
		Log string `json:"log"`
	}
	if err := s.Decode(&v); err == nil && v.Fail != "" {
		return errors.New(v.Fail)
	}
	if v.Log != "" {
		logEverywhere(v.Log)
	}
	if v.Ask != "" && host != nil {
		go func() {
			err := host.RequestReplace(context.Background(), sdk.Replacement{Object: blocklist.Object(), ProgramName: blocklist.ProgramName, Version: v.Ask})
			p.mu.Lock()
			if err != nil {
				p.unhealthy = fmt.Errorf("request %s: %w", v.Ask, err)
			} else {
				p.unhealthy = fmt.Errorf("request %s: accepted", v.Ask)
			}
			p.mu.Unlock()
		}()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settings, p.maps, p.host = s.JSON(), maps, host
	p.configs++
	return nil
}

func (p *probe) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unhealthy
}

func (p *probe) state() ([]byte, *sdk.Maps, *sdk.Host) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settings, p.maps, p.host
}

func newProbe() *probe {
	return &probe{desc: sdk.Description{
		Name:        "probe",
		Version:     "0.1.0",
		Object:      blocklist.Object(),
		ProgramName: blocklist.ProgramName,
		Priority:    7,
		ProceedOn:   []sdk.Verdict{sdk.Pass, sdk.Drop},
		Allowed:     []sdk.Verdict{sdk.Drop, sdk.Pass},
		Frags:       true,
	}}
}

// connectInProcess serves p in this process over plugin.TestPluginGRPCConn
// (gRPC with broker multiplexing, as in production) and wraps the client in
// a *Plugin as Start would.
func connectInProcess(t testing.TB, p sdk.Plugin, opts Options) *Plugin {
	t.Helper()
	gp := sdk.GRPCPlugin(p)
	client, server := plugin.TestPluginGRPCConn(t, true, contract.VersionedPlugins(gp)[contract.ProtocolVersion])
	// Runs after hp.Kill (cleanups run last first).
	t.Cleanup(func() { releaseTestConn(server) })
	if opts.Name == "" {
		opts.Name = "probe"
	}
	if opts.Command == "" {
		opts.Command = "in-process"
	}
	hp, err := newPlugin(opts, nil, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	go hp.watchExit()
	t.Cleanup(hp.Kill)
	if err := hp.describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return hp
}

// releaseTestConn closes what go-plugin's TestPluginGRPCConn leaves open:
// it stops the server (closing its side of the connection) and, since the
// helper drops its listener without closing it, has the garbage collector
// finalize the listener now rather than at some later collection, which the
// fd check of TestMain would see as a leak or not by chance.
func releaseTestConn(server *plugin.GRPCServer) {
	server.Stop()
	for range 3 {
		finalized := make(chan struct{})
		sentinel := new([16]byte)
		runtime.SetFinalizer(sentinel, func(*[16]byte) { close(finalized) })
		sentinel = nil
		runtime.GC()
		select {
		case <-finalized:
		case <-time.After(time.Second):
		}
	}
}

func TestInProcessDescribe(t *testing.T) {
	hp := connectInProcess(t, newProbe(), Options{Name: "edge-filter"})
	d := hp.Description()
	if d.Name != "probe" || d.Version != "0.1.0" || d.ProgramName != blocklist.ProgramName || !bytes.Equal(d.Object, blocklist.Object()) {
		t.Errorf("description %+v", d)
	}
	prog := hp.Program()
	want := dispatcher.Program{
		Name:        "edge-filter",
		Priority:    7,
		ProceedOn:   dispatcher.NewVerdictSet(dispatcher.Pass, dispatcher.Drop),
		Allowed:     dispatcher.NewVerdictSet(dispatcher.Drop, dispatcher.Pass),
		Frags:       true,
		Owner:       "plugin:edge-filter",
		Version:     "0.1.0",
		Object:      blocklist.Object(),
		ProgramName: blocklist.ProgramName,
	}
	if !reflect.DeepEqual(prog, want) {
		t.Errorf("program\n got %+v\nwant %+v", prog, want)
	}
	if err := (dispatcher.Chain{prog}).Validate(); err != nil {
		t.Errorf("program does not validate: %v", err)
	}

	// Defaults when the plugin declares none.
	p := newProbe()
	p.desc.Priority, p.desc.ProceedOn, p.desc.Allowed = 0, nil, nil
	prog = connectInProcess(t, p, Options{}).Program()
	if prog.Priority != dispatcher.DefaultPriority || prog.ProceedOn != dispatcher.DefaultProceedOn || prog.Allowed != 0 {
		t.Errorf("defaults: %+v", prog)
	}
}

func TestInProcessBadDescription(t *testing.T) {
	p := newProbe()
	p.desc.Object = nil
	gp := sdk.GRPCPlugin(p)
	client, server := plugin.TestPluginGRPCConn(t, true, contract.VersionedPlugins(gp)[contract.ProtocolVersion])
	// Runs after hp.Kill (cleanups run last first).
	t.Cleanup(func() { releaseTestConn(server) })
	hp, err := newPlugin(Options{Name: "x", Command: "x"}, nil, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	go hp.watchExit()
	defer hp.Kill()
	err = hp.describe(context.Background())
	if !errors.Is(err, ErrDescribe) {
		t.Fatalf("got %v, want ErrDescribe", err)
	}
	t.Log(err)
}

// testMaps creates and pins a hash map and a per-CPU array and returns
// them with their pin paths.
func testMaps(t testing.TB) (hash, percpu *ebpf.Map, pins map[string]string) {
	t.Helper()
	dir := bpffstest.Dir(t)
	hash, err := ebpf.NewMap(&ebpf.MapSpec{Name: "counts", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hash.Close() })
	percpu, err = ebpf.NewMap(&ebpf.MapSpec{Name: "percpu", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { percpu.Close() })
	pins = map[string]string{"counts": filepath.Join(dir, "counts"), "percpu": filepath.Join(dir, "percpu")}
	if err := hash.Pin(pins["counts"]); err != nil {
		t.Fatal(err)
	}
	if err := percpu.Pin(pins["percpu"]); err != nil {
		t.Fatal(err)
	}
	return hash, percpu, pins
}

// exerciseMaps runs the map API from the plugin's side and checks the
// results on the host's side of the same kernel maps.
func exerciseMaps(t *testing.T, maps *sdk.Maps, hash, percpu *ebpf.Map, direct bool) {
	t.Helper()
	if got := maps.Names(); !reflect.DeepEqual(got, []string{"counts", "percpu"}) {
		t.Fatalf("map names %v", got)
	}
	if _, err := maps.Map("other"); !errors.Is(err, sdk.ErrNoSuchMap) {
		t.Errorf("unknown map: %v", err)
	}
	counts, err := maps.Map("counts")
	if err != nil {
		t.Fatal(err)
	}
	if counts.Info().Direct != direct {
		t.Errorf("direct = %v, want %v", counts.Info().Direct, direct)
	}

	// Update and Lookup, both ways.
	if err := counts.Put(uint32(1), uint64(100)); err != nil {
		t.Fatal(err)
	}
	var v uint64
	if err := hash.Lookup(uint32(1), &v); err != nil || v != 100 {
		t.Errorf("host sees %d, %v; want 100", v, err)
	}
	if err := hash.Put(uint32(2), uint64(200)); err != nil {
		t.Fatal(err)
	}
	if err := counts.Lookup(uint32(2), &v); err != nil || v != 200 {
		t.Errorf("plugin sees %d, %v; want 200", v, err)
	}
	if err := counts.Lookup(uint32(3), &v); !errors.Is(err, sdk.ErrKeyNotExist) {
		t.Errorf("lookup of absent key: %v", err)
	}
	if err := counts.Update(uint32(1), uint64(1), sdk.UpdateNoExist); !errors.Is(err, sdk.ErrKeyExist) {
		t.Errorf("update no-exist of present key: %v", err)
	}
	if err := counts.Update(uint32(9), uint64(1), sdk.UpdateExist); !errors.Is(err, sdk.ErrKeyNotExist) {
		t.Errorf("update exist of absent key: %v", err)
	}
	if err := counts.Put(uint16(1), uint64(1)); !errors.Is(err, sdk.ErrEncoding) {
		t.Errorf("short key: %v", err)
	}
	var raw []byte
	if err := counts.Lookup([]byte{2, 0, 0, 0}, &raw); err != nil || len(raw) != 8 || raw[0] != 200 {
		t.Errorf("raw lookup: %v %v", raw, err)
	}

	// Delete.
	if err := counts.Delete(uint32(2)); err != nil {
		t.Fatal(err)
	}
	if err := hash.Lookup(uint32(2), &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("host still sees deleted key: %v", err)
	}
	if err := counts.Delete(uint32(2)); !errors.Is(err, sdk.ErrKeyNotExist) {
		t.Errorf("delete of absent key: %v", err)
	}

	// BatchUpdate, then one that stops half-way.
	keys := []uint32{10, 11, 12}
	vals := []uint64{1000, 1100, 1200}
	if n, err := counts.BatchUpdate(keys, vals, sdk.UpdateAny); err != nil || n != 3 {
		t.Fatalf("batch update: %d, %v", n, err)
	}
	n, err := counts.BatchUpdate([]uint32{20, 10, 21}, []uint64{1, 2, 3}, sdk.UpdateNoExist)
	if n != 1 || !errors.Is(err, sdk.ErrKeyExist) {
		t.Errorf("partial batch: %d, %v; want 1, ErrKeyExist", n, err)
	}

	// Iterate.
	got := map[uint32]uint64{}
	var k uint32
	it := counts.Iterate()
	for it.Next(&k, &v) {
		got[k] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[uint32]uint64{1: 100, 10: 1000, 11: 1100, 12: 1200, 20: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("iterate: %v, want %v", got, want)
	}

	// Per-CPU values.
	pc, err := maps.Map("percpu")
	if err != nil {
		t.Fatal(err)
	}
	ncpu := pc.Info().PossibleCPUs
	if !pc.Info().PerCPU || ncpu < 1 {
		t.Fatalf("percpu info %+v", pc.Info())
	}
	in := make([]uint32, ncpu)
	for i := range in {
		in[i] = uint32(i + 1)
	}
	if err := pc.Put(uint32(3), in); err != nil {
		t.Fatal(err)
	}
	var hostView []uint32
	if err := percpu.Lookup(uint32(3), &hostView); err != nil || !reflect.DeepEqual(hostView, in) {
		t.Errorf("host sees %v, %v; want %v", hostView, err, in)
	}
	var out []uint32
	if err := pc.Lookup(uint32(3), &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("plugin sees %v, %v; want %v", out, err, in)
	}
	if err := pc.Lookup(uint32(3), &v); !errors.Is(err, sdk.ErrEncoding) {
		t.Errorf("per-CPU lookup into a scalar: %v", err)
	}
	entries := 0
	pit := pc.Iterate()
	for pit.Next(&k, &out) {
		entries++
		if len(out) != ncpu {
			t.Errorf("iterated per-CPU value has %d elements", len(out))
		}
	}
	if err := pit.Err(); err != nil || entries != 4 {
		t.Errorf("per-CPU iterate: %d entries, %v", entries, err)
	}
}

func TestInProcessMaps(t *testing.T) {
	for _, tc := range []struct {
		access MapAccess
		direct bool
	}{
		{MapAccessDirect, true},
		{MapAccessAuto, true},
		{MapAccessBroker, false},
	} {
		t.Run(string(tc.access), func(t *testing.T) {
			hash, percpu, pins := testMaps(t)
			p := newProbe()
			hp := connectInProcess(t, p, Options{MapAccess: tc.access})
			if err := hp.Configure(context.Background(), pins); err != nil {
				t.Fatal(err)
			}
			_, maps, _ := p.state()
			exerciseMaps(t, maps, hash, percpu, tc.direct)
		})
	}
}

func TestInProcessMapsRestricted(t *testing.T) {
	_, _, pins := testMaps(t)
	p := newProbe()
	hp := connectInProcess(t, p, Options{MapAccess: MapAccessBroker})
	if err := hp.Configure(context.Background(), pins); err != nil {
		t.Fatal(err)
	}
	_, maps, _ := p.state()
	counts, _ := maps.Map("counts")

	// The daemon serves only the plugin's maps: ask for another one over
	// the broker's Maps service directly.
	s := &mapsServer{p: hp}
	_, err := s.Lookup(context.Background(), &pluginpb.MapLookupRequest{Map: "someone-elses", Key: []byte{0, 0, 0, 0}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("foreign map: %v, want PermissionDenied", err)
	}

	// After a Configure without "counts", the plugin's old handle is refused.
	if err := hp.Configure(context.Background(), map[string]string{"percpu": pins["percpu"]}); err != nil {
		t.Fatal(err)
	}
	if err := counts.Put(uint32(1), uint64(1)); !errors.Is(err, sdk.ErrPermission) {
		t.Errorf("removed map: %v, want ErrPermission", err)
	}
	_, maps, _ = p.state()
	if got := maps.Names(); !reflect.DeepEqual(got, []string{"percpu"}) {
		t.Errorf("maps after reconfigure: %v", got)
	}
	// A wrong pin path is a Configure error.
	err = hp.Configure(context.Background(), map[string]string{"x": pins["percpu"] + "-missing"})
	if !errors.Is(err, ErrConfigure) {
		t.Errorf("missing pin: %v", err)
	}
}

func TestInProcessSettingsAndErrors(t *testing.T) {
	p := newProbe()
	hp := connectInProcess(t, p, Options{Settings: map[string]any{"prefixes": []string{"192.0.2.0/24"}, "n": 3}})
	if err := hp.Configure(context.Background(), map[string]string{}); err != nil {
		t.Fatal(err)
	}
	settings, _, _ := p.state()
	if string(settings) != `{"n":3,"prefixes":["192.0.2.0/24"]}` {
		t.Errorf("settings %s", settings)
	}

	err := hp.ConfigureSettings(context.Background(), map[string]any{"fail": "no such thing as prefix 300.0.0.0/8"})
	if !errors.Is(err, ErrConfigure) || !bytes.Contains([]byte(err.Error()), []byte("300.0.0.0/8")) {
		t.Errorf("refused settings: %v", err)
	}
	if err := hp.SetSettings(map[string]any{"f": func() {}}); err == nil {
		t.Error("unmarshalable settings accepted")
	}

	if err := hp.Health(context.Background()); err != nil {
		t.Errorf("health: %v", err)
	}
	p.mu.Lock()
	p.unhealthy = errors.New("upstream feed is stale")
	p.mu.Unlock()
	err = hp.Health(context.Background())
	if !errors.Is(err, ErrUnhealthy) || !bytes.Contains([]byte(err.Error()), []byte("upstream feed is stale")) {
		t.Errorf("unhealthy: %v", err)
	}
}

// TestInProcessHealthLoop: the background check records each result, and
// logs a change of health once: unhealthy at warn, well again at info.
// The checks run every 20 ms but each may take up to a minute: a check
// that times out on a loaded machine fails for another reason, which is
// (rightly) logged as another change.
func TestInProcessHealthLoop(t *testing.T) {
	p := newProbe()
	p.unhealthy = errors.New("sick")
	rec := newRecorder(slog.LevelDebug)
	hp := connectInProcess(t, p, Options{Logger: slog.New(rec)})
	hp.runHealthLoop(20*time.Millisecond, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for hp.LastHealth().Failures < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("health loop: %+v", hp.LastHealth())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	p.unhealthy = nil
	p.mu.Unlock()
	for hp.LastHealth().Err != nil {
		if time.Now().After(deadline) {
			t.Fatalf("health loop did not recover: %+v", hp.LastHealth())
		}
		time.Sleep(10 * time.Millisecond)
	}
	sick := rec.find("plugin unhealthy")
	if len(sick) != 1 || sick[0].level != slog.LevelWarn || sick[0].attrs["plugin"] != "probe" ||
		!strings.Contains(sick[0].attrs["error"], "sick") || strings.HasPrefix(sick[0].attrs["error"], "plugin probe") {
		t.Errorf("records of turning unhealthy (after 2 failed checks): %v", sick)
	}
	well := rec.wait(t, "plugin healthy again")
	if well.level != slog.LevelInfo || !strings.Contains(well.attrs["was"], "sick") {
		t.Errorf("record of recovering: %v", well)
	}
}

func TestInProcessRequests(t *testing.T) {
	p := newProbe()
	hp := connectInProcess(t, p, Options{Name: "edge"})
	if err := hp.Configure(context.Background(), map[string]string{}); err != nil {
		t.Fatal(err)
	}
	_, _, host := p.state()
	if host == nil {
		t.Fatal("plugin got no host handle")
	}
	ctx := context.Background()
	newObject := append([]byte(nil), blocklist.Object()...)

	// A refused replace: the plugin sees the daemon's reason.
	errc := make(chan error, 1)
	go func() {
		errc <- host.RequestReplace(ctx, sdk.Replacement{Object: newObject, ProgramName: "xdp_other", Version: "0.2.0"})
	}()
	r := nextRequest(t, hp, errc)
	if r.Kind != RequestReplace || r.Plugin != "edge" || r.ProgramName != "xdp_other" || r.Version != "0.2.0" {
		t.Fatalf("request %+v", r)
	}
	if prog := r.Program(); prog.ProgramName != "xdp_other" || prog.Name != "edge" || prog.Version != "0.2.0" {
		t.Errorf("requested program %+v", prog)
	}
	r.Reply(errors.New("verifier says no"))
	if err := <-errc; !errors.Is(err, sdk.ErrRefused) || !bytes.Contains([]byte(err.Error()), []byte("verifier says no")) {
		t.Errorf("refused replace: %v", err)
	}
	if hp.Description().ProgramName != blocklist.ProgramName {
		t.Error("refused replace changed the description")
	}

	// An accepted replace updates the description.
	go func() {
		errc <- host.RequestReplace(ctx, sdk.Replacement{Object: newObject, ProgramName: blocklist.ProgramName, Version: "0.2.0"})
	}()
	r = nextRequest(t, hp, errc)
	r.Reply(nil)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if hp.Program().Version != "0.2.0" {
		t.Errorf("accepted replace: version %q", hp.Program().Version)
	}

	// A settings request, accepted, then applied by Configure.
	go func() { errc <- host.RequestSettings(ctx, map[string]any{"prefixes": []string{"2001:db8::/32"}}) }()
	r = nextRequest(t, hp, errc)
	if r.Kind != RequestSettings || fmt.Sprint(r.Settings["prefixes"]) != "[2001:db8::/32]" {
		t.Fatalf("settings request %+v", r)
	}
	r.Reply(nil)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := hp.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if settings, _, _ := p.state(); string(settings) != `{"prefixes":["2001:db8::/32"]}` {
		t.Errorf("settings after request: %s", settings)
	}

	// Nobody answers: the plugin's call ends with its context.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := host.RequestSettings(short, map[string]any{}); err == nil {
		t.Error("unanswered request succeeded")
	}
}

func TestInProcessKill(t *testing.T) {
	hp := connectInProcess(t, newProbe(), Options{})
	hp.Kill()
	select {
	case <-hp.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	if err := hp.Health(context.Background()); !errors.Is(err, ErrExited) {
		t.Errorf("health after kill: %v", err)
	}
}

func TestInProcessInterfaces(t *testing.T) {
	for _, access := range []MapAccess{MapAccessDirect, MapAccessBroker} {
		t.Run(string(access), func(t *testing.T) {
			hashA, _, pinsA := testMaps(t)
			hashB, _, pinsB := testMaps(t)
			p := newProbe()
			hp := connectInProcess(t, p, Options{MapAccess: access})
			if err := hp.ConfigureInterfaces(context.Background(), map[string]map[string]string{"veth0": pinsA, "veth1": pinsB}); err != nil {
				t.Fatal(err)
			}
			_, maps, _ := p.state()
			if got := maps.Interfaces(); !reflect.DeepEqual(got, []string{"veth0", "veth1"}) {
				t.Fatalf("interfaces %v", got)
			}
			counts, err := maps.Map("counts")
			if err != nil {
				t.Fatal(err)
			}
			if counts.Info().Direct != (access == MapAccessDirect) {
				t.Errorf("fan-out map direct = %v", counts.Info().Direct)
			}
			// Writes through Map reach every interface's copy.
			if err := counts.Put(uint32(1), uint64(5)); err != nil {
				t.Fatal(err)
			}
			var v uint64
			for name, h := range map[string]*ebpf.Map{"veth0": hashA, "veth1": hashB} {
				if err := h.Lookup(uint32(1), &v); err != nil || v != 5 {
					t.Errorf("%s copy: %d, %v", name, v, err)
				}
			}
			// One interface's copy alone.
			one, err := maps.Interface("veth1")
			if err != nil {
				t.Fatal(err)
			}
			only, _ := one.Map("counts")
			if err := only.Put(uint32(2), uint64(7)); err != nil {
				t.Fatal(err)
			}
			if err := hashA.Lookup(uint32(2), &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
				t.Errorf("veth1's write reached veth0: %v", err)
			}
			if err := counts.Lookup(uint32(2), &v); !errors.Is(err, sdk.ErrKeyNotExist) {
				t.Errorf("fan-out reads the first interface: %v", err)
			}
			if err := counts.Delete(uint32(2)); err != nil {
				t.Errorf("fan-out delete of a key one copy has: %v", err)
			}
			if err := counts.Delete(uint32(2)); !errors.Is(err, sdk.ErrKeyNotExist) {
				t.Errorf("fan-out delete of a key no copy has: %v", err)
			}
			if _, err := maps.Interface("eth9"); !errors.Is(err, sdk.ErrNoSuchInterface) {
				t.Errorf("unknown interface: %v", err)
			}

			// Down to one interface: veth1's copies are no longer the plugin's.
			if err := hp.ConfigureInterfaces(context.Background(), map[string]map[string]string{"veth0": pinsA}); err != nil {
				t.Fatal(err)
			}
			_, maps, _ = p.state()
			if got := maps.Interfaces(); !reflect.DeepEqual(got, []string{"veth0"}) {
				t.Errorf("interfaces after removal %v", got)
			}
			if access == MapAccessBroker {
				if err := only.Put(uint32(3), uint64(1)); !errors.Is(err, sdk.ErrPermission) {
					t.Errorf("removed interface's map: %v", err)
				}
			}
			if err := hp.ConfigureInterfaces(context.Background(), map[string]map[string]string{"a/b": pinsA}); !errors.Is(err, ErrConfigure) {
				t.Errorf("interface name with '/': %v", err)
			}
		})
	}
}

// BenchmarkMapOps compares a map update and lookup done by the plugin
// directly on its pin with the same done through the daemon's broker.
func BenchmarkMapOps(b *testing.B) {
	for _, access := range []MapAccess{MapAccessDirect, MapAccessBroker} {
		b.Run(string(access), func(b *testing.B) {
			_, _, pins := testMaps(b)
			p := newProbe()
			hp := connectInProcess(b, p, Options{MapAccess: access})
			if err := hp.Configure(context.Background(), pins); err != nil {
				b.Fatal(err)
			}
			_, maps, _ := p.state()
			counts, _ := maps.Map("counts")
			var v uint64
			b.ResetTimer()
			for i := range b.N {
				if err := counts.Put(uint32(i%64), uint64(i)); err != nil {
					b.Fatal(err)
				}
				if err := counts.Lookup(uint32(i%64), &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nextRequest waits for the plugin's next request; if the plugin's call
// failed before reaching the host (errc), or nothing came, it fails the test
// instead of waiting forever.
func nextRequest(t *testing.T, hp *Plugin, errc <-chan error) *Request {
	t.Helper()
	select {
	case r := <-hp.Requests():
		return r
	case err := <-errc:
		t.Fatalf("the plugin's request returned before the host saw it: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no request reached the host")
	}
	return nil
}
