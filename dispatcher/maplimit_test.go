package dispatcher

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testutil"
)

// TestLinkedMapLimit: a linked (or inline) generation is one kernel
// program, so its programs share the kernel's limit of 64 maps; the
// mechanism refuses a chain over it before building, naming the first
// program that does not fit. Freplace has no such limit.
func TestLinkedMapLimit(t *testing.T) {
	testutil.RequireRoot(t)
	newMap := func() *ebpf.Map {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	slotWith := func(name string, n int) *slot {
		s := &slot{Program: Program{Name: name}, maps: map[string]*ebpf.Map{}}
		for i := range n {
			s.maps[fmt.Sprint("m", i)] = newMap()
		}
		return s
	}
	g := &generation{stats: newMap(), slots: []*slot{slotWith("small", 30), slotWith("big", 34)}}
	_, err := (&inlineMechanism{}).build(g)
	var pe *ProgramError
	if !errors.As(err, &pe) || pe.Program != "big" || !errors.Is(err, ErrInvalid) {
		t.Fatalf("65 maps: %v, want a ProgramError for big wrapping ErrInvalid", err)
	}
	if err := checkMapLimit(&generation{stats: g.stats, slots: []*slot{slotWith("fits", 63)}}); err != nil {
		t.Errorf("64 maps: %v", err)
	}
}
