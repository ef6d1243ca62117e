package dispatcher

import (
	"errors"
	"testing"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{
		"": ModeAuto, "auto": ModeAuto,
		"native": ModeNative, "drv": ModeNative, "driver": ModeNative,
		"skb": ModeSKB, "generic": ModeSKB,
	} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Native", "hw", "offload", " skb", "x"} {
		if got, err := ParseMode(in); !errors.Is(err, ErrInvalid) || got != "" {
			t.Errorf("ParseMode(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestParseMechanism(t *testing.T) {
	for in, want := range map[string]MechanismKind{
		"": AutoMechanism, "auto": AutoMechanism,
		"linked": Linked, "link": Linked,
		"freplace": Freplace, "ext": Freplace,
	} {
		if got, err := ParseMechanism(in); err != nil || got != want {
			t.Errorf("ParseMechanism(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Linked", "tail-call", "x"} {
		if got, err := ParseMechanism(in); !errors.Is(err, ErrInvalid) || got != "" {
			t.Errorf("ParseMechanism(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	want := Options{BPFFS: DefaultBPFFS, StateDir: DefaultStateDir, Mode: ModeAuto, Mechanism: AutoMechanism}
	var nilOpts *Options
	if got := nilOpts.withDefaults(); got != want {
		t.Errorf("nil options: %+v, want %+v", got, want)
	}
	if got := (&Options{}).withDefaults(); got != want {
		t.Errorf("zero options: %+v, want %+v", got, want)
	}
	set := Options{NetNS: "blue", BPFFS: "/b", StateDir: "/s", Mode: ModeSKB, Mechanism: Linked, VerifierLogs: true}
	in := set
	if got := in.withDefaults(); got != set {
		t.Errorf("set options changed: %+v, want %+v", got, set)
	}
	partial := Options{Mode: ModeNative}
	got := partial.withDefaults()
	if got.Mode != ModeNative || got.BPFFS != DefaultBPFFS || got.Mechanism != AutoMechanism {
		t.Errorf("partial options: %+v", got)
	}
	if partial != (Options{Mode: ModeNative}) {
		t.Errorf("withDefaults modified its receiver: %+v", partial)
	}
}
