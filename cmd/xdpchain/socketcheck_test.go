package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCheckWarnsAboutSocketPath: `run --check` warns when the control
// socket's path holds something the daemon will not remove (here a regular
// file), and is quiet when nothing is there.
func TestRunCheckWarnsAboutSocketPath(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "xdpchain.sock")
	path := filepath.Join(dir, "config.toml")
	src := fmt.Sprintf("[daemon]\nsocket = %q\n\n[[interface]]\nname = \"eth0\"\n", socket)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "run", "--config", path, "--check")
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("--check with nothing at the socket path: exit %d, stderr %q; want no warning", code, stderr)
	}
	if err := os.WriteFile(socket, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "run", "--config", path, "--check")
	if want := "warning: control socket path is taken: " + socket + " is a regular file, not a socket"; code != 0 || !strings.Contains(stderr, want) {
		t.Errorf("--check with a file at the socket path: exit %d, stderr %q; want %q", code, stderr, want)
	}
	if b, err := os.ReadFile(socket); err != nil || string(b) != "not a socket" {
		t.Errorf("--check touched the file at the socket path: %q, %v", b, err)
	}
}
