package sdk

import (
	"errors"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// key and value are laid out like C structs (no implicit padding), as
// bpf2go generates them.
type key struct {
	Port  uint16
	Proto uint8
	Pad   uint8
}

type value struct {
	Packets, Bytes uint64
}

func newTestMaps(t *testing.T, specs ...*ebpf.MapSpec) *Maps {
	t.Helper()
	testutil.RequireRoot(t)
	raw := map[string]*ebpf.Map{}
	for _, s := range specs {
		m, err := ebpf.NewMap(s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		raw[s.Name] = m
	}
	maps, err := NewMaps(raw)
	if err != nil {
		t.Fatal(err)
	}
	return maps
}

func TestTypedMap(t *testing.T) {
	flows := &ebpf.MapSpec{Name: "flows", Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 8}
	perCPU := &ebpf.MapSpec{Name: "totals", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}
	maps := newTestMaps(t, flows, perCPU)

	m, err := MapOf[key, value](maps, flows)
	if err != nil {
		t.Fatal(err)
	}
	k := key{Port: 53, Proto: 17}
	if _, err := m.Lookup(k); !errors.Is(err, ErrKeyNotExist) {
		t.Errorf("lookup of an absent key: %v", err)
	}
	if err := m.Put(k, value{Packets: 2, Bytes: 100}); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(k, value{}, UpdateNoExist); !errors.Is(err, ErrKeyExist) {
		t.Errorf("UpdateNoExist on a present key: %v", err)
	}
	if n, err := m.BatchUpdate([]key{{Port: 123, Proto: 17}, {Port: 443, Proto: 6}}, []value{{Packets: 1}, {Packets: 3}}, UpdateAny); n != 2 || err != nil {
		t.Fatalf("batch: %d, %v", n, err)
	}
	if v, err := m.Lookup(k); err != nil || v != (value{Packets: 2, Bytes: 100}) {
		t.Errorf("lookup: %+v, %v", v, err)
	}
	var ports []uint16
	if err := m.Range(func(k key, v value) bool { ports = append(ports, k.Port); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []uint16{53, 123, 443}) {
		t.Errorf("range: ports %v", ports)
	}
	n := 0
	m.Range(func(key, value) bool { n++; return false })
	if n != 1 {
		t.Errorf("range went on after false: %d calls", n)
	}
	if err := m.Delete(k); err != nil {
		t.Fatal(err)
	}
	if m.Map().Info().Name != "flows" {
		t.Errorf("untyped map %v", m.Map())
	}

	// Per-CPU: the value type is a slice of the per-CPU value.
	tot, err := MapOf[uint32, []uint64](maps, perCPU)
	if err != nil {
		t.Fatal(err)
	}
	if err := tot.Put(0, []uint64{7}); err != nil {
		t.Fatal(err)
	}
	vs, err := tot.Lookup(0)
	if err != nil || len(vs) != tot.Map().Info().PossibleCPUs || vs[0] != 7 {
		t.Errorf("per-CPU lookup: %v, %v", vs, err)
	}

	// Mismatches are refused.
	for name, err := range map[string]error{
		"key type":         second(MapOf[uint16, value](maps, flows)),
		"value type":       second(MapOf[key, uint64](maps, flows)),
		"per-CPU no slice": second(MapOf[uint32, uint64](maps, perCPU)),
		"spec sizes":       second(MapOf[key, value](maps, &ebpf.MapSpec{Name: "flows", KeySize: 4, ValueSize: 8})),
	} {
		if !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := MapOf[key, value](maps, &ebpf.MapSpec{Name: "nope"}); !errors.Is(err, ErrNoSuchMap) {
		t.Errorf("unknown map: %v", err)
	}
	if _, err := TypedOf[[]byte, []byte](m.Map()); err != nil {
		t.Errorf("[]byte key and value: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
