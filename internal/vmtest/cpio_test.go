package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type cpioEntry struct {
	name         string
	mode         uint32
	rdev         [2]uint32
	data         string
	headerOffset int
}

// readNewc parses a newc archive, checking magic and alignment.
func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("bad header field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("entry at offset %d is not 4-byte aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic %q at %d", b[off:off+6], off)
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		nameStart := off + 110
		name := string(b[nameStart : nameStart+namesize-1])
		if b[nameStart+namesize-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		dataStart := (nameStart + namesize + 3) &^ 3
		e := cpioEntry{name: name, mode: mode, rdev: [2]uint32{field(9), field(10)},
			data: string(b[dataStart : dataStart+size]), headerOffset: off}
		off = (dataStart + size + 3) &^ 3
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	big := strings.Repeat("0123456789", 1001)
	if err := os.WriteFile(src, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := newCPIOWriter(&buf)
	c.Dir("tmp", 0o1777)
	c.File("/etc/hosts", 0o644, []byte("x"))
	c.CopyFile("a/b/c/big", 0o755, src)
	c.Symlink("bin/sh", "/bin/busybox")
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("etc/empty", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	entries := readNewc(t, buf.Bytes())
	var names []string
	byName := map[string]cpioEntry{}
	for _, e := range entries {
		names = append(names, e.name)
		byName[e.name] = e
	}
	want := []string{"tmp", "etc", "etc/hosts", "a", "a/b", "a/b/c", "a/b/c/big", "bin", "bin/sh", "dev", "dev/console", "etc/empty"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for _, tc := range []struct {
		name string
		mode uint32
		data string
	}{
		{"tmp", cpioModeDir | 0o1777, ""},
		{"a/b", cpioModeDir | 0o755, ""},
		{"etc/hosts", cpioModeFile | 0o644, "x"},
		{"a/b/c/big", cpioModeFile | 0o755, big},
		{"bin/sh", cpioModeLink | 0o777, "/bin/busybox"},
		{"dev/console", cpioModeChar | 0o600, ""},
		{"etc/empty", cpioModeFile | 0o644, ""},
	} {
		e := byName[tc.name]
		if e.mode != tc.mode || e.data != tc.data {
			t.Errorf("%s: mode %o, %d bytes; want mode %o, %d bytes", tc.name, e.mode, len(e.data), tc.mode, len(tc.data))
		}
	}
	if r := byName["dev/console"].rdev; r != [2]uint32{5, 1} {
		t.Errorf("dev/console rdev %v, want 5,1", r)
	}

	// Cross-check with an independent reader where one exists (GNU cpio
	// on the host, busybox cpio in a VM).
	if _, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command("cpio", "-it")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -it: %v", err)
		}
		if got := strings.Fields(string(out)); !slices.Equal(got, want) {
			t.Errorf("cpio -it lists %q, want %q", got, want)
		}
	}
}

func TestCPIOWriterError(t *testing.T) {
	c := newCPIOWriter(&bytes.Buffer{})
	c.CopyFile("x", 0o644, filepath.Join(t.TempDir(), "missing"))
	c.File("y", 0o644, []byte("y"))
	if err := c.Close(); err == nil {
		t.Fatal("archiving a missing file did not fail")
	}
}

func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f.o"), []byte("obj"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/f.o", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := newCPIOWriter(&buf)
	if err := copyTree(c, src, "/usr/lib/bpf"); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(c, filepath.Join(src, "d", "f.o"), "/single.o"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]cpioEntry{}
	for _, e := range readNewc(t, buf.Bytes()) {
		got[e.name] = e
	}
	for name, want := range map[string]cpioEntry{
		"usr/lib/bpf/d/f.o": {mode: cpioModeFile | 0o640, data: "obj"},
		"usr/lib/bpf/link":  {mode: cpioModeLink | 0o777, data: "d/f.o"},
		"single.o":          {mode: cpioModeFile | 0o640, data: "obj"},
	} {
		if e, ok := got[name]; !ok || e.mode != want.mode || e.data != want.data {
			t.Errorf("%s: got %+v (present %v), want mode %o data %q", name, e, ok, want.mode, want.data)
		}
	}
}
