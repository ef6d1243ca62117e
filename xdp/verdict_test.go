package xdp

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestVerdict(t *testing.T) {
	for in, want := range map[string]Verdict{"aborted": Aborted, "XDP_DROP": Drop, " pass ": Pass, "Tx": TX, "xdp_redirect": Redirect} {
		if got, err := ParseVerdict(in); err != nil || got != want {
			t.Errorf("ParseVerdict(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "accept", "XDP_", "5"} {
		if _, err := ParseVerdict(in); !errors.Is(err, ErrUnknownVerdict) {
			t.Errorf("ParseVerdict(%q): %v, want ErrUnknownVerdict", in, err)
		}
	}
	if _, err := ParseVerdict("accept"); err.Error() != `unknown verdict "accept" (want aborted, drop, pass, tx or redirect)` {
		t.Errorf("message %q", err)
	}
	if Verdict(7).String() != "verdict(7)" || Verdict(5).Valid() || !Redirect.Valid() {
		t.Error("String or Valid wrong at the edge")
	}
	var back struct{ V Verdict }
	if b, err := json.Marshal(struct{ V Verdict }{Drop}); err != nil || string(b) != `{"V":"drop"}` {
		t.Errorf("JSON: %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"V":"XDP_TX"}`), &back); err != nil || back.V != TX {
		t.Errorf("JSON back: %v, %v", back.V, err)
	}
}

// TestFallthrough: the one rule for a fall-through verdict, as the CLI,
// config.toml and the chain edits apply it.
func TestFallthrough(t *testing.T) {
	for _, v := range []Verdict{Drop, Pass, TX, Redirect} {
		if err := CheckFallthrough(v); err != nil {
			t.Errorf("CheckFallthrough(%s): %v", v, err)
		}
	}
	if err := CheckFallthrough(Aborted); !errors.Is(err, ErrFallthrough) {
		t.Errorf("CheckFallthrough(aborted): %v", err)
	}
	if err := CheckFallthrough(Verdict(9)); !errors.Is(err, ErrUnknownVerdict) {
		t.Errorf("CheckFallthrough(9): %v", err)
	}
	if v, err := ParseFallthrough("XDP_DROP"); err != nil || v != Drop {
		t.Errorf("ParseFallthrough(XDP_DROP) = %v, %v", v, err)
	}
	if _, err := ParseFallthrough("aborted"); err == nil || err.Error() != "aborted reports program errors and cannot be the fall-through verdict; use drop" {
		t.Errorf("ParseFallthrough(aborted): %v", err)
	}
	if _, err := ParseFallthrough("maybe"); !errors.Is(err, ErrUnknownVerdict) {
		t.Errorf("ParseFallthrough(maybe): %v", err)
	}
}
