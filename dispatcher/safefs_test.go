package dispatcher_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// newHardeningFixture is newFixture with the namespaces and veth names
// prefixed xh- (apart from other tests that run on the same machine).
func newHardeningFixture(t *testing.T, mech dispatcher.Mechanism) *fixture {
	t.Helper()
	return newPrefixedFixture(t, mech, "xh-")
}

// newPrefixedFixture is newFixture with the namespaces and veth names
// starting with prefix.
func newPrefixedFixture(t *testing.T, mech dispatcher.Mechanism, prefix string) *fixture {
	t.Helper()
	testutil.RequireRoot(t)
	f := &fixture{mech: mech, bpffs: testutil.PrivateBPFFS(t), stateDir: t.TempDir()}
	f.send = testutil.NewNetNSPrefix(t, prefix)
	f.recv = testutil.NewNetNSPrefix(t, prefix)
	f.pair = testutil.NewVethPair(t, f.send, f.recv, &testutil.VethOptions{NameA: prefix + "a0", NameB: prefix + "b0"})
	testutil.AddNeighbours(t, f.pair)
	t.Cleanup(func() { detachIfAttached(t, f.iface(), f.opts()) })
	return f
}

// victim is a file outside the state directory that a forged state
// directory tries to get deleted.
func victim(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "0000000000000000000000000000000000000000000000000000000000000000.o")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func expectSurvives(t *testing.T, path string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("%s outside the state directory: %q, %v; want it untouched", path, b, err)
	}
}

// swapForSymlink moves path aside and puts a symbolic link to target in
// its place; the returned function puts it back.
func swapForSymlink(t *testing.T, path, target string) (restore func()) {
	t.Helper()
	if err := os.Rename(path, path+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return func() {
		os.Remove(path)
		os.Rename(path+".real", path)
	}
}

// TestForgedStateDir plants symbolic links in a real root's state
// directory, pointing outside with a forged state: looking (Open, Status,
// List, `xdpchain status`) deletes nothing and a change refuses, naming
// the link; the file outside survives.
func TestForgedStateDir(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	r := f.attach(t)
	add(t, r, program(t, testprogs.Counter, "counter"))
	st := status(t, r)
	r.Close()
	ifState := stateDirOf(f, st)
	look := func(t *testing.T) {
		t.Helper()
		if r, err := dispatcher.Open(f.iface(), f.opts()); err == nil {
			r.Status()
			r.Close()
		}
		dispatcher.List(f.opts())
		runBin(t, "--no-daemon", "--bpffs", f.bpffs, "--state-dir", f.stateDir, "status")
		runBin(t, append(f.cliArgs(), "--no-daemon", "status", f.iface())...)
	}

	t.Run("objects directory is a symbolic link", func(t *testing.T) {
		outside, target := victim(t)
		objects := filepath.Join(ifState, "objects")
		defer swapForSymlink(t, objects, outside)()
		look(t)
		expectSurvives(t, target)
		r, err := dispatcher.Open(f.iface(), f.opts())
		if err == nil {
			_, err = r.Update(func(s *dispatcher.Spec) error { s.Programs = nil; return nil })
			r.Close()
		}
		if !errors.Is(err, dispatcher.ErrUnsafeDir) || !strings.Contains(err.Error(), objects+" is a symbolic link") {
			t.Errorf("a change through a symlinked objects directory: %v; want ErrUnsafeDir naming %s", err, objects)
		}
		expectSurvives(t, target)
	})

	t.Run("namespace directory is a symbolic link to a forged state", func(t *testing.T) {
		outside, target := victim(t)
		nsDir := filepath.Dir(ifState)
		forged := filepath.Join(t.TempDir(), "ns")
		// The forged tree: the real state, with objects pointing outside.
		if err := os.MkdirAll(filepath.Join(forged, filepath.Base(ifState)), 0o700); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(ifState, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(forged, filepath.Base(ifState), "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(forged, filepath.Base(ifState), "objects")); err != nil {
			t.Fatal(err)
		}
		defer swapForSymlink(t, nsDir, forged)()
		look(t)
		expectSurvives(t, target)
		_, err = dispatcher.Open(f.iface(), f.opts())
		if !errors.Is(err, dispatcher.ErrUnsafeDir) || !strings.Contains(err.Error(), nsDir+" is a symbolic link") {
			t.Errorf("Open through a symlinked namespace directory: %v; want ErrUnsafeDir naming %s", err, nsDir)
		}
		if _, err := dispatcher.List(f.opts()); !errors.Is(err, dispatcher.ErrUnsafeDir) {
			t.Errorf("List through a symlinked namespace directory: %v; want ErrUnsafeDir", err)
		}
		_, errOut, code := runBin(t, append(f.cliArgs(), "--no-daemon", "status", f.iface())...)
		if code == 0 || !strings.Contains(errOut, nsDir) {
			t.Errorf("xdpchain status: exit %d, %q; want a failure naming %s", code, errOut, nsDir)
		}
		expectSurvives(t, target)
	})

	t.Run("state.json is a symbolic link", func(t *testing.T) {
		_, target := victim(t)
		file := filepath.Join(ifState, "state.json")
		defer swapForSymlink(t, file, target)()
		look(t)
		_, err := dispatcher.Open(f.iface(), f.opts())
		if !errors.Is(err, dispatcher.ErrUnsafeDir) || !strings.Contains(err.Error(), file) {
			t.Errorf("Open with a symlinked state.json: %v; want ErrUnsafeDir naming it", err)
		}
		expectSurvives(t, target)
	})

	// Untouched by all of it, the root still works.
	for _, v6 := range []bool{false, true} {
		f.expectUDP(t, v6, passPort, 5, true)
	}
	r, err := dispatcher.Open(f.iface(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := status(t, r); got.DispatcherID != st.DispatcherID || len(got.Programs) != 1 {
		t.Errorf("after the forged state: %+v", got)
	}
}

// TestUnsafeStateDirRefused: a state or pin directory that someone else
// could change is refused with an error naming it and saying why.
func TestUnsafeStateDirRefused(t *testing.T) {
	vmtest.LogWhere(t)
	f := newHardeningFixture(t, dispatcher.Linked)
	r := f.attach(t)
	st := status(t, r)
	r.Close()
	for _, tc := range []struct {
		name   string
		dir    string
		change func(string) error
		reason string
	}{
		{"group-writable state dir", f.stateDir, func(d string) error { return os.Chmod(d, 0o770) }, "is writable by group or others (mode 0770)"},
		{"world-writable interface state dir", stateDirOf(f, st), func(d string) error { return os.Chmod(d, 0o707) }, "is writable by group or others (mode 0707)"},
		{"state dir of another user", f.stateDir, func(d string) error { return os.Chown(d, 65534, -1) }, "is owned by uid 65534, not by uid 0"},
		{"group-writable pin dir", pinDirOf(f, st), func(d string) error { return os.Chmod(d, 0o770) }, "is writable by group or others (mode 0770)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before os.FileInfo
			before, err := os.Stat(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.change(tc.dir); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Chmod(tc.dir, before.Mode().Perm())
				os.Chown(tc.dir, 0, -1)
			}()
			want := tc.dir + " " + tc.reason
			for what, fn := range map[string]func() error{
				"Open":   func() error { return closeRoot(dispatcher.Open(f.iface(), f.opts())) },
				"Attach": func() error { return closeRoot(dispatcher.Attach(f.iface(), f.opts())) },
				"List":   func() error { _, err := dispatcher.List(f.opts()); return err },
			} {
				if err := fn(); !errors.Is(err, dispatcher.ErrUnsafeDir) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v; want ErrUnsafeDir saying %q", what, err, want)
				}
			}
		})
	}
	r, err := dispatcher.Open(f.iface(), f.opts())
	if err != nil {
		t.Fatalf("after the directories are safe again: %v", err)
	}
	r.Close()
}

// closeRoot closes what Open or Attach returned and returns its error.
func closeRoot(r *dispatcher.Root, err error) error {
	if r != nil {
		r.Close()
	}
	return err
}
