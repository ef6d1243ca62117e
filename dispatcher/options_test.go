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
		if err := Mode(in).Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Mode(%q).Validate() = %v, want ErrInvalid", in, err)
		}
	}
	// The modes ParseMode returns (and none) are valid; an alias is a
	// name to parse, not a mode.
	for _, m := range []Mode{"", ModeAuto, ModeNative, ModeSKB} {
		if err := m.Validate(); err != nil {
			t.Errorf("Mode(%q).Validate() = %v", m, err)
		}
	}
	if err := Mode("drv").Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("the alias drv validates as a mode: %v", err)
	}
	// The text form (JSON, the state file) is the name, parsed back by
	// ParseMode (aliases too); none stays none.
	textRoundTrip(t, map[Mode]string{"": "", ModeAuto: "auto", ModeNative: "native", ModeSKB: "skb"})
	var m Mode
	if err := json.Unmarshal([]byte(`"generic"`), &m); err != nil || m != ModeSKB {
		t.Errorf("unmarshalling generic: %q, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`"turbo"`), &m); !errors.Is(err, ErrInvalid) {
		t.Errorf("unmarshalling an unknown mode: %v, want ErrInvalid", err)
	}
}

// textRoundTrip checks that each value marshals to JSON as its name and
// reads back as itself.
func textRoundTrip[T comparable](t *testing.T, names map[T]string) {
	t.Helper()
	for v, name := range names {
		b, err := json.Marshal(struct{ V T }{v})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"V":"` + name + `"}`; string(b) != want {
			t.Errorf("%v marshals to %s, want %s", v, b, want)
		}
		var back struct{ V T }
		if err := json.Unmarshal(b, &back); err != nil || back.V != v {
			t.Errorf("%s unmarshals to %v, %v", b, back.V, err)
		}
	}
}

func TestParseMechanism(t *testing.T) {
	for in, want := range map[string]Mechanism{
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
	textRoundTrip(t, map[Mechanism]string{AutoMechanism: "auto", Inline: "inline", Linked: "linked", Freplace: "freplace"})
	if AutoMechanism.String() != "auto" {
		t.Errorf("auto prints as %q", AutoMechanism.String())
	}
	var m Mechanism
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
