package config

import (
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/chain"
)

// TestPlacement decodes before/after in [[program]] and [[plugin]], and
// refuses both at once, or one with a priority.
func TestPlacement(t *testing.T) {
	const head = "[[interface]]\nname = \"eth0\"\n"
	cfg, err := Load(writeConfig(t, head+
		"[[program]]\nname = \"a\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\nbefore = \"guard\"\n"+
		"[[plugin]]\nname = \"p\"\ncommand = \"plugin\"\ninterfaces = [\"eth0\"]\nafter = \"a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Programs[0].Placement; got != (chain.Placement{Before: "guard"}) {
		t.Errorf("program placement %+v", got)
	}
	if got := cfg.Plugins[0].Placement; got != (chain.Placement{After: "a"}) {
		t.Errorf("plugin placement %+v", got)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"both", "before = \"x\"\nafter = \"y\"\n", ":8: program[0].after: give before or after, not both"},
		{"with a priority", "priority = 5\nafter = \"y\"\n", ":8: program[0].after: a placement chooses the priority"},
		{"bad name", "before = \"a b\"\n", ":7: program[0].before: bad program name"},
	} {
		_, err := Load(writeConfig(t, head+"[[program]]\nname = \"a\"\nobject = \"prog.o\"\ninterfaces = [\"eth0\"]\n"+tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
