package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &cliEnv{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.o"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(`
[[interface]]
name = "eth0"
[[program]]
name = "p"
object = "prog.o"
interfaces = ["eth0"]
`), 0o644)
	code, stdout, stderr := runCLI(t, "run", "--config", good, "--check")
	if code != 0 || !strings.Contains(stdout, "ok (1 interfaces, 0 plugins, 1 programs, 0 grants)") {
		t.Errorf("--check of a good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`
[[interface]]
name = "eth0"
mode = "turbo"
[[program]]
name = "p"
object = "prog.o"
interfaces = ["eth1"]
`), 0o644)
	code, stdout, stderr = runCLI(t, "run", "--config", bad, "--check")
	if code == 0 {
		t.Fatalf("--check of a bad file succeeded: %q", stdout)
	}
	for _, want := range []string{
		bad + ":4: interface[0].mode: unknown mode \"turbo\"",
		bad + ":8: program[0].interfaces: unknown interface \"eth1\"",
		"2 problems",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	missing := filepath.Join(dir, "missing.toml")
	os.WriteFile(missing, []byte(`
[[interface]]
name = "eth0"
[[program]]
name = "p"
object = "nope.o"
interfaces = ["eth0"]
`), 0o644)
	code, _, stderr = runCLI(t, "run", "--config", missing, "--check")
	if code == 0 || !strings.Contains(stderr, missing+":6: program[0].object: "+dir+"/nope.o: no such file or directory") {
		t.Errorf("--check with a missing object: exit %d, stderr %q", code, stderr)
	}
}
