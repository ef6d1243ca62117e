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
	if !slices.Equal(o.Counts, DefaultCounts) || !slices.Equal(o.Mechanisms, []dispatcher.MechanismKind{dispatcher.Linked}) {
		t.Errorf("counts %v mechanisms %v", o.Counts, o.Mechanisms)
	}

	o, err = (&Options{LibXDP: "x.o", Counts: nil}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Counts, []int{0, 1, 4, 10, 16, 64}) || !slices.Equal(o.LibXDPCounts, DefaultLibXDPCounts) {
		t.Errorf("with libxdp: counts %v libxdp counts %v", o.Counts, o.LibXDPCounts)
	}
	if DefaultCounts[len(DefaultCounts)-1] != 64 || len(DefaultCounts) != 5 {
		t.Errorf("defaults changed by withDefaults: %v", DefaultCounts)
	}

	o, err = (&Options{Counts: []int{4, 1, 4}}).withDefaults()
	if err != nil || !slices.Equal(o.Counts, []int{1, 4}) {
		t.Errorf("counts %v, %v: want sorted and unique", o.Counts, err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	for _, o := range []Options{
		{Counts: []int{65}},
		{Counts: []int{-1}},
		{LibXDPCounts: []int{0}},
		{LibXDPCounts: []int{11}},
		{Mechanisms: []dispatcher.MechanismKind{dispatcher.AutoMechanism}},
		{Repeat: -1},
		{Rounds: -3},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
