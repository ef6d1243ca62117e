package bench

import (
	"slices"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := (*Options)(nil).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Repeat != DefaultRepeat || o.Rounds != DefaultRounds {
		t.Errorf("repeat %d rounds %d", o.Repeat, o.Rounds)
	}
	if !slices.Equal(o.Counts, []int{0, 1, 4, 10, 16, 64}) || !slices.Equal(o.Mechanisms, []dispatcher.Mechanism{dispatcher.Linked, dispatcher.Inline}) {
		t.Errorf("counts %v mechanisms %v", o.Counts, o.Mechanisms)
	}
	if !slices.Equal(o.Programs, []string{ProgramNoop, ProgramUDP}) || o.SwapPrograms != 64 {
		t.Errorf("programs %v swap programs %d", o.Programs, o.SwapPrograms)
	}

	o, err = (&Options{LibXDP: "x.o", Counts: nil}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Counts, []int{0, 1, 4, 10, 16, 64}) || !slices.Equal(o.LibXDPCounts, DefaultLibXDPCounts) {
		t.Errorf("with libxdp: counts %v libxdp counts %v", o.Counts, o.LibXDPCounts)
	}
	o.Counts[0] = 99
	o.Programs[0] = "changed"
	o.Mechanisms[0] = "changed"
	if DefaultCounts[0] != 0 || DefaultPrograms[0] != ProgramNoop || DefaultMechanisms[0] != dispatcher.Linked {
		t.Errorf("defaults changed through withDefaults' result: %v %v %v", DefaultCounts, DefaultPrograms, DefaultMechanisms)
	}

	o, err = (&Options{Counts: []int{4, 1, 4}}).withDefaults()
	if err != nil || !slices.Equal(o.Counts, []int{1, 4}) {
		t.Errorf("counts %v, %v: want sorted and unique", o.Counts, err)
	}
	o, err = (&Options{
		Programs:   []string{ProgramUDP, ProgramNoop, ProgramUDP},
		Mechanisms: []dispatcher.Mechanism{dispatcher.Inline, dispatcher.Linked, dispatcher.Inline},
	}).withDefaults()
	if err != nil || !slices.Equal(o.Programs, []string{ProgramUDP, ProgramNoop}) || !slices.Equal(o.Mechanisms, []dispatcher.Mechanism{dispatcher.Inline, dispatcher.Linked}) {
		t.Errorf("programs %v mechanisms %v, %v: want unique, in the given order", o.Programs, o.Mechanisms, err)
	}
	if o, err := (&Options{SwapPrograms: -1}).withDefaults(); err != nil || o.SwapPrograms != -1 {
		t.Errorf("swap programs %d, %v: want -1 (off)", o.SwapPrograms, err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	for _, o := range []Options{
		{Counts: []int{65}},
		{Counts: []int{-1}},
		{LibXDPCounts: []int{0}},
		{LibXDPCounts: []int{11}},
		{Mechanisms: []dispatcher.Mechanism{dispatcher.AutoMechanism}},
		{Programs: []string{"counter"}},
		{Programs: []string{}},
		{SwapPrograms: 65},
		{Repeat: -1},
		{Rounds: -3},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
