package sdktest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/host"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithFDCheck(m)) }

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestLoadAndRun loads dropport (drops UDP to port 9999, its .rodata) and
// runs built packets through it.
func TestLoadAndRun(t *testing.T) {
	obj := Load(t, testprogs.Object(testprogs.DropPort), testprogs.Program(testprogs.DropPort))
	if got := obj.Maps.Names(); !slices.Contains(got, ".rodata") {
		t.Errorf("maps %v, want .rodata among them", got)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want sdk.Verdict
	}{
		{"udp4 to 9999", UDP(addrPort("192.0.2.1:1"), addrPort("192.0.2.2:9999"), []byte("x")), sdk.Drop},
		{"udp6 to 9999", UDP(addrPort("[2001:db8::1]:1"), addrPort("[2001:db8::2]:9999"), nil), sdk.Drop},
		{"udp4 to 53", UDP(addrPort("192.0.2.1:1"), addrPort("192.0.2.2:53"), nil), sdk.Pass},
		{"tcp4 to 9999", TCP(addrPort("192.0.2.1:1"), addrPort("192.0.2.2:9999"), TCPHeader{Flags: SYN}, nil), sdk.Pass},
		{"arp", Ethernet(EtherTypeARP, make([]byte, 28)), sdk.Pass},
	} {
		if got := obj.Run(t, tc.pkt); got != tc.want {
			t.Errorf("%s: verdict %s, want %s", tc.name, got, tc.want)
		}
	}
	pkt := UDP(addrPort("192.0.2.1:1"), addrPort("192.0.2.2:9999"), nil)
	r, err := RunResult(obj.Program, pkt)
	if err != nil || r.Verdict != sdk.Drop || !bytes.Equal(r.Packet, pkt) {
		t.Errorf("RunResult: %+v, %v", r, err)
	}
}

func TestLoadUnknownProgram(t *testing.T) {
	RequireRoot(t)
	ft := &fatalTB{TB: t}
	func() {
		defer func() { recover() }()
		Load(ft, testprogs.Object(testprogs.DropPort), "nope")
	}()
	if !strings.Contains(ft.msg, `no program "nope"`) || !strings.Contains(ft.msg, "dropport") {
		t.Errorf("failure %q", ft.msg)
	}
}

// fatalTB records a Fatal instead of failing the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {

	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

// counterObjects is shaped like bpf2go's output: programs and maps in
// embedded structs, fields tagged with the names in the object.
type counterObjects struct {
	counterPrograms
	counterMaps
}

type counterPrograms struct {
	Counter *ebpf.Program `ebpf:"counter"`
}

type counterMaps struct {
	Hits *ebpf.Map `ebpf:"hits"`
}

func (o *counterObjects) Close() error { return errors.Join(o.Counter.Close(), o.Hits.Close()) }

func loadCounterObjects(obj any, opts *ebpf.CollectionOptions) error {
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		return err
	}
	return spec.LoadAndAssign(obj, opts)
}

func TestLoadObjects(t *testing.T) {
	var objs counterObjects
	t.Run("loaded", func(t *testing.T) {
		maps := LoadObjects(t, loadCounterObjects, &objs)
		if got := maps.Names(); !slices.Equal(got, []string{"hits"}) {
			t.Fatalf("maps %v, want [hits]", got)
		}
		m, _ := maps.Map("hits")
		if m.Info().MaxEntries != objs.Hits.MaxEntries() {
			t.Errorf("map info %+v", m.Info())
		}
		Run(t, objs.Counter, UDP(addrPort("192.0.2.1:1"), addrPort("192.0.2.2:2"), nil))
	})
	if objs.Counter == nil || objs.Counter.FD() >= 0 || objs.Hits.FD() >= 0 {
		t.Errorf("objects not loaded, or not closed when the test ended: %v %v", objs.Counter, objs.Hits)
	}
}

func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "{}"},
		{`{"a": 1}`, `{"a": 1}`},
		{[]byte(`{"b": 2}`), `{"b": 2}`},
		{map[string]any{"ports": []int{53}}, `{"ports":[53]}`},
		{struct {
			Rate int `json:"rate_pps"`
		}{5}, `{"rate_pps":5}`},
	} {
		if got := string(Settings(tc.in).JSON()); got != tc.want {
			t.Errorf("Settings(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestProcess builds (or finds) the blocklist example's binary and runs it
// as the daemon would: its program drops what its settings list, new
// settings apply without a reload, a refusal changes nothing.
func TestProcess(t *testing.T) {
	bin := Build(t, "github.com/xdpchain/xdpchain/plugins/blocklist/cmd/xdpchain-blocklist")
	for _, access := range []host.MapAccess{host.MapAccessDirect, host.MapAccessBroker} {
		t.Run(string(access), func(t *testing.T) {
			p := Start(t, ProcessOptions{
				Command:   bin,
				Name:      "bl",
				MapAccess: access,
				Settings:  map[string]any{"prefixes": []string{"192.0.2.0/24"}},
			})
			if d := p.Plugin.Description(); d.Name != "blocklist" || p.Plugin.Program().Name != "bl" {
				t.Errorf("description %s, chain entry %s", d.Name, p.Plugin.Program().Name)
			}
			from := func(src string) []byte {
				return UDP(netip.AddrPortFrom(netip.MustParseAddr(src), 1), addrPort("198.51.100.1:53"), nil)
			}
			if v := p.Run(t, from("192.0.2.7")); v != sdk.Drop {
				t.Errorf("listed source: %s", v)
			}
			if v := p.Run(t, from("203.0.113.7")); v != sdk.Pass {
				t.Errorf("unlisted source: %s", v)
			}
			if err := p.Configure(map[string]any{"prefixes": []string{"203.0.113.0/24"}}); err != nil {
				t.Fatal(err)
			}
			if p.Run(t, from("192.0.2.7")) != sdk.Pass || p.Run(t, from("203.0.113.7")) != sdk.Drop {
				t.Error("new settings not in force")
			}
			err := p.Configure(map[string]any{"prefixes": []string{"203.0.113.0/33"}})
			if !errors.Is(err, host.ErrConfigure) || !strings.Contains(err.Error(), "203.0.113.0/33") {
				t.Errorf("bad settings: %v", err)
			}
			if p.Run(t, from("203.0.113.7")) != sdk.Drop {
				t.Error("a refused configure changed the maps")
			}
			// The test sees the plugin's maps: one trie entry, written by
			// the plugin.
			v4, err := p.Maps().Map("bl_v4")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			var key [8]byte
			var val uint32
			for it := v4.Iterate(); it.Next(&key, &val); {
				n++
			}
			if n != 1 {
				t.Errorf("bl_v4 holds %d entries, want 1", n)
			}
			if p.Pins["bl_v4"] == "" || !strings.HasPrefix(p.Pins["bl_v4"], p.BPFFS) {
				t.Errorf("pins %v not in %s", p.Pins, p.BPFFS)
			}
			if !strings.Contains(p.Logs(), "interface=sdktest0") {
				t.Errorf("logs do not carry the interface:\n%s", p.Logs())
			}
		})
	}
}
