package chain

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

func TestOverridesApply(t *testing.T) {
	set := func(vs ...dispatcher.Verdict) *dispatcher.VerdictSet { s := dispatcher.NewVerdictSet(vs...); return &s }
	prio, yes := 7, true
	base := dispatcher.Program{Name: "p", Priority: 50, ProceedOn: dispatcher.DefaultProceedOn}

	got, err := Overrides{}.Apply(base)
	if err != nil || got.Priority != 50 || got.ProceedOn != dispatcher.DefaultProceedOn || got.Allowed != 0 || got.Shadow {
		t.Errorf("no overrides: %+v, %v", got, err)
	}
	got, err = Overrides{Priority: &prio, ProceedOn: set(), Allowed: set(dispatcher.Pass, dispatcher.Drop), Shadow: &yes}.Apply(base)
	if err != nil || got.Priority != 7 || got.ProceedOn != 0 || got.Allowed != *set(dispatcher.Pass, dispatcher.Drop) || !got.Shadow {
		t.Errorf("overrides: %+v, %v", got, err)
	}
	// Allowed narrows a declared limit, never widens it.
	declared := base
	declared.Allowed = *set(dispatcher.Pass, dispatcher.TX)
	got, err = Overrides{Allowed: set(dispatcher.Pass, dispatcher.Drop)}.Apply(declared)
	if err != nil || got.Allowed != *set(dispatcher.Pass) {
		t.Errorf("narrowing: %s, %v", got.Allowed, err)
	}
	if _, err := (Overrides{Allowed: set(dispatcher.Drop)}).Apply(declared); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("disjoint allowed: %v, want ErrInvalid", err)
	}
	bad := dispatcher.VerdictSet(1 << 9)
	if _, err := (Overrides{ProceedOn: &bad}).Apply(base); !errors.Is(err, dispatcher.ErrInvalid) {
		t.Errorf("unknown bits: %v", err)
	}
}
