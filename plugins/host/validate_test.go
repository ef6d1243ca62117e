package host

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// validatingProbe is a probe that validates its settings: it refuses
// "fail", as Configure does.
type validatingProbe struct{ *probe }

func (v validatingProbe) Validate(_ context.Context, s sdk.Settings) error {
	var st struct {
		Fail string `json:"fail"`
	}
	if err := s.Decode(&st); err != nil {
		return err
	}
	if st.Fail != "" {
		return errors.New(st.Fail)
	}
	return nil
}

// TestInProcessValidate: Validate reports the plugin's reason, once; a
// plugin without a Validate method says it cannot check; nothing is
// applied.
func TestInProcessValidate(t *testing.T) {
	p := newProbe()
	hp := connectInProcess(t, validatingProbe{p}, Options{Name: "portcount"})
	if err := hp.Validate(context.Background(), map[string]any{"fail": ""}); err != nil {
		t.Errorf("good settings: %v", err)
	}
	err := hp.Validate(context.Background(), map[string]any{"fail": "ports[1]: 70000 is not a port"})
	var se *SettingsError
	if !errors.Is(err, ErrSettings) || !errors.As(err, &se) || se.Reason != "ports[1]: 70000 is not a port" || se.Plugin != "portcount" {
		t.Fatalf("refused settings: %#v", err)
	}
	if got, want := err.Error(), "plugin portcount: settings refused: ports[1]: 70000 is not a port"; got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
	if settings, _, _ := p.state(); settings != nil || p.configs != 0 {
		t.Errorf("Validate configured the plugin: %s", settings)
	}

	// A Configure refusal names what failed once.
	err = hp.ConfigureSettings(context.Background(), map[string]any{"fail": "ports[1]: 70000 is not a port"})
	if got, want := err.Error(), "plugin portcount: configuring plugin: ports[1]: 70000 is not a port"; got != want {
		t.Errorf("Configure refusal\n got %q\nwant %q", got, want)
	}

	plain := connectInProcess(t, newProbe(), Options{Name: "old"})
	if err := plain.Validate(context.Background(), nil); !errors.Is(err, ErrNotValidated) {
		t.Errorf("a plugin without Validate: %v, want ErrNotValidated", err)
	}
}

// TestProcessValidate: the example plugins validate their settings in
// their own process, before any Configure (as `xdpchain run --check` asks).
func TestProcessValidate(t *testing.T) {
	for _, tc := range []struct {
		bin, name      string
		good, bad      map[string]any
		reasonContains string
	}{
		{"xdpchain-blocklist", "blocklist",
			map[string]any{"prefixes": []string{"192.0.2.0/24", "2001:db8::/32"}},
			map[string]any{"prefixes": []string{"192.0.2.0/24", "300.0.0.0/8"}},
			`prefix "300.0.0.0/8"`},
		{"xdpchain-ratelimit", "ratelimit",
			map[string]any{"rate_pps": 100, "burst": 10},
			map[string]any{"rate_pps": 0},
			"rate_pps must be set and positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlugin(t, Options{Name: tc.name, Command: pluginBinary(t, tc.bin)})
			if err := p.Validate(testContext(), tc.good); err != nil {
				t.Errorf("good settings: %v", err)
			}
			err := p.Validate(testContext(), tc.bad)
			var se *SettingsError
			if !errors.As(err, &se) || !strings.Contains(se.Reason, tc.reasonContains) {
				t.Errorf("bad settings: %v, want a refusal with %q", err, tc.reasonContains)
			}
			if err := p.Validate(testContext(), map[string]any{"typo": 1}); !errors.As(err, &se) || !strings.Contains(se.Reason, `unknown field "typo"`) {
				t.Errorf("unknown key: %v", err)
			}
		})
	}
}
