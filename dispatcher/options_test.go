package dispatcher

import (
	"encoding/json"
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
		"": AutoMechanism, "auto": AutoMechanism, "inline": Inline,
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
	// The text form (JSON, the state file) is the name, parsed back by
	// ParseMechanism; auto prints as "auto".
	for _, k := range []MechanismKind{AutoMechanism, Inline, Linked, Freplace} {
		b, err := json.Marshal(struct{ M MechanismKind }{k})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"M":"` + k.String() + `"}`; string(b) != want {
			t.Errorf("%s marshals to %s, want %s", k, b, want)
		}
		var back struct{ M MechanismKind }
		if err := json.Unmarshal(b, &back); err != nil || back.M != k {
			t.Errorf("%s unmarshals to %q, %v", b, back.M, err)
		}
	}
	if AutoMechanism.String() != "auto" {
		t.Errorf("auto prints as %q", AutoMechanism.String())
	}
	var m MechanismKind
	if err := json.Unmarshal([]byte(`"teleport"`), &m); !errors.Is(err, ErrInvalid) {
		t.Errorf("unmarshalling an unknown mechanism: %v, want ErrInvalid", err)
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
