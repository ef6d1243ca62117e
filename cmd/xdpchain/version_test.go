package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "--version")
	if want := "xdpchain version " + readBuildInfo().Short() + "\n"; code != 0 || out != want || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit ") {
		t.Errorf("--version: exit %d, %q %q; want %q", code, out, errOut, want)
	}
	old := version
	version = "1.2.3+4.gabcdef0"
	defer func() { version = old }()
	if _, out, _ := runCLI(t, "--version"); !strings.HasPrefix(out, "xdpchain version 1.2.3+4.gabcdef0 (commit ") {
		t.Errorf("--version with a linked-in version: %q", out)
	}
}

// TestManPages: the hidden man verb writes a page per visible command,
// and is not one of them.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if code, _, errOut := runCLI(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("man: exit %d: %s", code, errOut)
	}
	for _, page := range []string{"xdpchain.1", "xdpchain-run.1", "xdpchain-load.1", "xdpchain-unload.1", "xdpchain-status.1", "xdpchain-detach.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.Contains(string(b), `.TH "XDPCHAIN" "1" "Nov 2023"`) {
			t.Errorf("%s: no reproducible .TH header:\n%.200s", page, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "xdpchain-man.1")); err == nil {
		t.Error("the hidden man verb has a man page")
	}
}
