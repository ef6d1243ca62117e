package plugintest

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
)

func TestUDPFrom(t *testing.T) {
	for _, tc := range []struct {
		src, dst  string
		etherType uint16
		ipLen     int // header length up to the UDP header
		srcAt     int // offset of the source address in the IP header
		addrLen   int
	}{
		{"192.0.2.1", "10.0.0.1", 0x0800, 20, 12, 4},
		{"2001:db8::1", "fd00::1", 0x86dd, 40, 8, 16},
	} {
		f := UDPFrom(tc.src)
		if got := binary.BigEndian.Uint16(f[12:14]); got != tc.etherType {
			t.Errorf("%s: ether type %#04x, want %#04x", tc.src, got, tc.etherType)
		}
		ip := f[14:]
		src, _ := netip.AddrFromSlice(ip[tc.srcAt : tc.srcAt+tc.addrLen])
		dst, _ := netip.AddrFromSlice(ip[tc.srcAt+tc.addrLen : tc.srcAt+2*tc.addrLen])
		if src != netip.MustParseAddr(tc.src) || dst != netip.MustParseAddr(tc.dst) {
			t.Errorf("%s: addresses %s -> %s, want %s -> %s", tc.src, src, dst, tc.src, tc.dst)
		}
		udp := ip[tc.ipLen:]
		if sp, dp := binary.BigEndian.Uint16(udp[0:2]), binary.BigEndian.Uint16(udp[2:4]); sp != 1234 || dp != 53 {
			t.Errorf("%s: ports %d -> %d, want 1234 -> 53", tc.src, sp, dp)
		}
		if payload := string(udp[8:]); payload != "hello" {
			t.Errorf("%s: payload %q, want \"hello\"", tc.src, payload)
		}
	}
}

// counterObjects receives the counter test program and its map.
type counterObjects struct {
	Prog *ebpf.Program `ebpf:"counter"`
	Hits *ebpf.Map     `ebpf:"hits"`
}

func (o *counterObjects) Close() error {
	return errors.Join(o.Prog.Close(), o.Hits.Close())
}

func loadCounter(obj any, opts *ebpf.CollectionOptions) error {
	spec, err := testprogs.Spec(testprogs.Counter)
	if err != nil {
		return err
	}
	return spec.LoadAndAssign(obj, opts)
}

// TestLoad loads the counter test program: it runs, the plugin's view has
// the named map, and the objects are closed when the test ends.
func TestLoad(t *testing.T) {
	var objs counterObjects
	t.Run("loaded", func(t *testing.T) {
		maps := Load(t, "counter", loadCounter, &objs, func() map[string]*ebpf.Map {
			return map[string]*ebpf.Map{"counts": objs.Hits}
		})
		if got := maps.Names(); !slices.Equal(got, []string{"counts"}) {
			t.Errorf("map names %v, want [counts]", got)
		}
		m, err := maps.Map("counts")
		if err != nil {
			t.Fatal(err)
		}
		if info := m.Info(); info.MaxEntries != objs.Hits.MaxEntries() {
			t.Errorf("map info %+v, want %d entries", info, objs.Hits.MaxEntries())
		}
		if _, err := objs.Prog.Run(&ebpf.RunOptions{Data: UDPFrom("192.0.2.1")}); err != nil {
			t.Errorf("running the loaded program: %v", err)
		}
	})
	if objs.Prog == nil {
		t.Fatal("nothing loaded")
	}
	if fd := objs.Prog.FD(); fd >= 0 {
		t.Errorf("program still open (fd %d) after the test", fd)
	}
	if fd := objs.Hits.FD(); fd >= 0 {
		t.Errorf("map still open (fd %d) after the test", fd)
	}
}
