package config

import (
	"os"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
)

// TestChoicesText checks that config.toml's comments and docs/config.md
// describe mode and mechanism with the one text the code has
// (dispatcher.ModeChoices, dispatcher.MechanismChoices), and that the text
// says what auto resolves to.
func TestChoicesText(t *testing.T) {
	auto, _ := dispatcher.ResolveMechanism(dispatcher.AutoMechanism, dispatcher.AutoMechanism)
	if !strings.Contains(dispatcher.MechanismChoices, "auto (= "+string(auto)) {
		t.Errorf("MechanismChoices %q does not say auto resolves to %s", dispatcher.MechanismChoices, auto)
	}
	for _, f := range []struct{ file, prefix string }{
		{"../config.toml", "mode ="},
		{"../config.toml", "mechanism ="},
		{"../docs/config.md", "| `mode` |"},
		{"../docs/config.md", "| `mechanism` |"},
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		want := dispatcher.ModeChoices
		if strings.Contains(f.prefix, "mechanism") {
			want = dispatcher.MechanismChoices
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, f.prefix) {
				found = true
				if !strings.Contains(line, want) {
					t.Errorf("%s: %q does not say %q", f.file, line, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no line starts with %q", f.file, f.prefix)
		}
	}
}
