package config

import (
	"strings"
	"testing"
)

func TestLocate(t *testing.T) {
	src := strings.Join([]string{
		`# comment [[plugin]]`,           // 1
		`[daemon]`,                       // 2
		`socket = "/x"  # [[interface]]`, // 3
		``,                               // 4
		`[[interface]]`,                  // 5
		`name = "a"`,                     // 6
		`[[interface]]`,                  // 7
		`  name = 'b'`,                   // 8
		`mode = """`,                     // 9
		`[[plugin]]`,                     // 10 (inside a multi-line string)
		`"""`,                            // 11
		`[[plugin]]`,                     // 12
		`name = "p0"`,                    // 13
		`args = [`,                       // 14
		`  "x", # [[plugin]]`,            // 15
		`  ["y"],`,                       // 16
		`]`,                              // 17
		`[plugin.settings]`,              // 18
		`a.b = 1`,                        // 19
		`"quoted key" = { c = 1 }`,       // 20
		`[[plugin]]`,                     // 21
		`name = "p1"`,                    // 22
		`priority = 5`,                   // 23
		`[plugin.settings]`,              // 24
		`lit = '''`,                      // 25
		`priority = 6'''`,                // 26
		`z = 1`,                          // 27
	}, "\n")
	l := locate([]byte(src))
	for _, tc := range []struct {
		path []string
		line int
	}{
		{[]string{"daemon"}, 2},
		{[]string{"daemon", "socket"}, 3},
		{[]string{"interface"}, 5},
		{[]string{"interface[0]"}, 5},
		{[]string{"interface[0]", "name"}, 6},
		{[]string{"interface[1]", "name"}, 8},
		{[]string{"interface[1]", "mode"}, 9},
		{[]string{"plugin[0]"}, 12},
		{[]string{"plugin[0]", "name"}, 13},
		{[]string{"plugin[0]", "args"}, 14},
		{[]string{"plugin[0]", "settings"}, 18},
		{[]string{"plugin[0]", "settings", "a"}, 19},
		{[]string{"plugin[0]", "settings", "a", "b"}, 19},
		{[]string{"plugin[0]", "settings", "quoted key"}, 20},
		{[]string{"plugin[0]", "settings", "quoted key", "c"}, 20}, // inline: parent's line
		{[]string{"plugin[1]"}, 21},
		{[]string{"plugin[1]", "name"}, 22},
		{[]string{"plugin[1]", "priority"}, 23},
		{[]string{"plugin[1]", "missing"}, 21}, // falls back to the header
		{[]string{"plugin[1]", "settings", "lit"}, 25},
		{[]string{"plugin[1]", "settings", "z"}, 27},
		{[]string{"plugin[2]"}, 0},
	} {
		if got := l.line(tc.path); got != tc.line {
			t.Errorf("line(%q) = %d, want %d", tc.path, got, tc.line)
		}
	}
	if n := l.arrays["plugin"]; n != 2 {
		t.Errorf("counted %d [[plugin]] tables, want 2", n)
	}
}
