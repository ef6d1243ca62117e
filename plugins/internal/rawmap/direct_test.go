package rawmap

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

func TestDirectPerCPU(t *testing.T) {
	testutil.RequireRoot(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUHash, KeySize: 2, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := InfoOf("m", "", m)
	if err != nil {
		t.Fatal(err)
	}
	d := &Direct{Info: info, Map: m}
	if !d.PerCPU || d.Stride() != 8 || d.FullValueSize() != 8*d.PossibleCPUs {
		t.Fatalf("info %+v", d.Info)
	}
	value := make([]byte, d.FullValueSize())
	for cpu := range d.PossibleCPUs {
		value[cpu*8] = byte(cpu + 1)
	}
	if err := d.Update([]byte{1, 0}, value, uint64(ebpf.UpdateAny)); err != nil {
		t.Fatal(err)
	}
	var perCPU []uint32
	if err := m.Lookup(uint16(1), &perCPU); err != nil {
		t.Fatal(err)
	}
	for cpu, v := range perCPU {
		if v != uint32(cpu+1) {
			t.Errorf("cpu %d holds %d", cpu, v)
		}
	}
	got, err := d.Lookup([]byte{1, 0})
	if err != nil || string(got) != string(value) {
		t.Errorf("lookup %v, %v", got, err)
	}
	it := d.Iterate()
	n := 0
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		n++
		if k[0] != 1 || string(v) != string(value) {
			t.Errorf("entry %v %v", k, v)
		}
	}
	if it.Err() != nil || n != 1 {
		t.Errorf("iterate: %d, %v", n, it.Err())
	}

	if err := d.Update([]byte{1}, value, 0); !errors.Is(err, ErrSize) {
		t.Errorf("short key: %v", err)
	}
	if err := d.Update([]byte{1, 0}, value[:4], 0); !errors.Is(err, ErrSize) {
		t.Errorf("short value: %v", err)
	}
	if _, err := d.BatchUpdate([][]byte{{1, 0}}, nil, 0); !errors.Is(err, ErrSize) {
		t.Errorf("batch with missing values: %v", err)
	}
	if _, err := d.Lookup([]byte{9, 9}); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("absent key: %v", err)
	}
}
