package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	}, &out, 200*time.Millisecond)
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
	}, &out, time.Second)
	if code != 0 || out.Len() != 0 {
		t.Errorf("a clean run: exit code %d, report %q", code, out.String())
	}

	// A failing run keeps its code.
	if code := runWithFDCheck(func() int { return 3 }, &out, time.Second); code != 3 {
		t.Errorf("a failing run: exit code %d, want 3", code)
	}

	// A descriptor closed shortly after the run returns is no leak.
	out.Reset()
	code = runWithFDCheck(func() int {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(100*time.Millisecond, func() { f.Close() })
		return 0
	}, &out, 10*time.Second)
	if code != 0 || out.Len() != 0 {
		t.Errorf("a descriptor closed late: exit code %d, report %q", code, out.String())
	}
}
