package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadTooLarge: a file over MaxSize is refused before it is read, with
// an error that says so.
func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.toml")
	src := strings.Repeat("# padding padding padding padding\n", MaxSize/34+1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path+": the file is") || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("Load of a %d-byte file: %v; want the size limit naming the file", len(src), err)
	}
	// Just under the limit loads.
	if err := os.WriteFile(path, []byte(src[:MaxSize]), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("Load of a file of exactly MaxSize bytes: %v", err)
	}
}

// TestLoadShapeLimits: nesting and dotted keys whose cost grows with the
// square of their depth in the TOML library are refused at their line;
// what a real config nests (settings tables, arrays of arrays) and dots
// inside strings and floats are not.
func TestLoadShapeLimits(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"nested arrays", "a = 1\nb = " + strings.Repeat("[", 9) + strings.Repeat("]", 9) + "\n", 2, "nested more than 8 deep"},
		{"nested inline tables", "\n\nc = " + strings.Repeat("{d=", 9) + "1" + strings.Repeat("}", 9) + "\n", 3, "nested more than 8 deep"},
		{"unterminated nesting", "x = " + strings.Repeat("[", 100000), 1, "nested more than 8 deep"},
		{"dotted key", strings.Repeat("k.", 8) + "k = 1\n", 1, "more than 8 dotted parts"},
		{"dotted header", "[" + strings.Repeat("h.", 8) + "h]\n", 1, "more than 8 dotted parts"},
		{"dotted key in an inline table", "t = {" + strings.Repeat("k.", 8) + "k = 1}\n", 1, "more than 8 dotted parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("c.toml", "/x/c.toml", []byte(tc.src))
			errs := Errors(err)
			if len(errs) != 1 || errs[0].Line != tc.line || !strings.Contains(errs[0].Msg, tc.msg) {
				t.Fatalf("got %v; want one error at line %d: %s", err, tc.line, tc.msg)
			}
		})
	}
	ok := `[daemon]
socket = "/a.b.c.d.e.f.g.h.i.j/s.o.c.k"   # dots in strings and comments: . . . . . . . . .
[[interface]]
name = "eth0"
[[plugin]]
name = "p"
command = "/bin/p.a.b.c.d.e.f.g.h.i"
interfaces = ["eth0"]
[plugin.settings]
rate = 1.5
a.b.c.d.e = 'x.y.z.a.b.c.d.e.f.g.h'
nested = [[1, 2], [[3, [4, {x = [5]}]]]]
text = """
.........
[[[[[[[[[[[[
"""
`
	if _, err := parse("ok.toml", "/x/ok.toml", []byte(ok)); err != nil {
		t.Fatalf("a config within the limits: %v", err)
	}
}

// TestValidateLinear: entries on "*" share one list of interfaces, and
// counting programs per interface stops once some interface is certainly
// over its limit, so checking stays linear in the file's size: 200
// programs on every one of 2 interfaces count no further than 65.
func TestValidateLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("[[interface]]\nname = \"a\"\n[[interface]]\nname = \"b\"\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "[[program]]\nname = \"p%d\"\nobject = \"p.o\"\ninterfaces = [\"*\"]\n", i)
	}
	_, err := parse("c.toml", "/x/c.toml", []byte(b.String()))
	errs := Errors(err)
	if len(errs) != 2 {
		t.Fatalf("got %v; want one error per interface", err)
	}
	for i, e := range errs {
		if want := fmt.Sprintf("interface[%d]", i); e.Key != want || !strings.Contains(e.Msg, "at least 65 programs configured, at most 64") {
			t.Errorf("error %d: %v; want %s: at least 65 programs", i, e, want)
		}
	}
	// Under the limit, "*" still means every interface, in file order.
	cfg, err := parse("c.toml", "/x/c.toml", []byte("[[interface]]\nname = \"a\"\n[[interface]]\nname = \"b\"\n[[program]]\nname = \"p\"\nobject = \"p.o\"\ninterfaces = [\"b\", \"*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Programs[0].Interfaces, " "); got != "a b" {
		t.Errorf(`interfaces ["b", "*"] resolve to %q, want "a b"`, got)
	}
}

// parse decodes data as Load does; file names the file in errors, abs
// anchors relative paths.
func parse(file, abs string, data []byte) (*Config, error) {
	return decodeWith(file, abs, data, decodeAll)
}
