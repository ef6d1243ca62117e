package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenFDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "marker")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds, err := OpenFDs()
	if err != nil {
		t.Fatal(err)
	}
	if got := fds[int(f.Fd())]; got != path {
		t.Fatalf("fd %d: got %q, want %q", f.Fd(), got, path)
	}
}

func TestRunWithFDCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leak")
	var leaked *os.File
	var out bytes.Buffer
	code := runWithFDCheck(func() int {
		var err error
		leaked, err = os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}, &out)
	leaked.Close()
	if code != 1 {
		t.Errorf("a leaking run: exit code %d, want 1", code)
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("report does not name the leaked file:\n%s", out.String())
	}

	out.Reset()
	code = runWithFDCheck(func() int {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		return 0
	}, &out)
	if code != 0 || out.Len() != 0 {
		t.Errorf("a clean run: exit code %d, report %q", code, out.String())
	}

	// A failing run keeps its code.
	if code := runWithFDCheck(func() int { return 3 }, &out); code != 3 {
		t.Errorf("a failing run: exit code %d, want 3", code)
	}
}
