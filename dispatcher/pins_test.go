package dispatcher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

func TestPinName(t *testing.T) {
	for in, want := range map[string]string{
		"hits":           "hits",
		".bss":           "_bss",
		".rodata.config": "_rodata_config",
		"a/b.c":          "a_b_c",
		"":               "",
	} {
		if got := pinName(in); got != want {
			t.Errorf("pinName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPinDirLayout(t *testing.T) {
	pd := newPinDir(Options{BPFFS: "/b", StateDir: "/s"}, 4026531840, 7)
	for got, want := range map[string]string{
		pd.bpf:           "/b/xdpchain/4026531840/7",
		pd.state:         "/s/4026531840/7",
		pd.link():        "/b/xdpchain/4026531840/7/link",
		pd.stats():       "/b/xdpchain/4026531840/7/stats",
		pd.progMaps("p"): "/b/xdpchain/4026531840/7/maps/p",
		pd.progsDir():    "/b/xdpchain/4026531840/7/progs",
		pd.linksDir():    "/b/xdpchain/4026531840/7/links",
		pd.stateFile():   "/s/4026531840/7/state.json",
		pd.pendingFile(): "/s/4026531840/7/state.json.pending",
		pd.objectsDir():  "/s/4026531840/7/objects",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub", "dir") // created on demand
	path := filepath.Join(dir, "file")
	for _, tc := range []struct {
		data string
		perm os.FileMode
	}{
		{"first", 0o640},
		{"second, longer content", 0o600},
		{"", 0o644},
	} {
		if err := writeFileAtomic(path, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.data {
			t.Errorf("content %q, want %q", b, tc.data)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.perm {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
		}
		if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"file"}) {
			t.Errorf("directory holds %v, want only the file (temporary files left behind?)", names)
		}
	}
	// A failed write (the target is a directory) leaves no temporary file.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "d"), []byte("x"), 0o600); err == nil {
		t.Error("replacing a directory succeeded")
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"d", "file"}) {
		t.Errorf("after a failed write the directory holds %v", names)
	}
}

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	want := &state{
		rootIdentity: rootIdentity{Interface: "eth0", Ifindex: 3, NetNS: "blue", NetNSInode: 4026532000, Mode: ModeSKB},
		Mechanism:    Linked, Reason: "because",
		Fallthrough: Drop, NoCounters: true, Generation: 9, DispatcherID: 1234,
		Programs: []programState{{
			programRecord: programRecord{Name: "a", Priority: 10, ProceedOn: NewVerdictSet(Pass, Drop),
				Allowed: NewVerdictSet(Pass), Shadow: true, Frags: true, Owner: "o", Version: "1.2", ProgramName: "fn"},
			Object: strings.Repeat("ab", 32), Counter: 5, Base: Stats{Drop: 3, Denied: 1}, ProgramID: 77,
		}},
	}
	if err := writeState(path, want); err != nil {
		t.Fatal(err)
	}
	if want.Version != stateVersion {
		t.Errorf("writeState set version %d, want %d", want.Version, stateVersion)
	}
	got, err := readState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	// The root's identity stays top-level keys of the file (the format
	// did not change when it became its own type).
	var keys map[string]any
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &keys) != nil {
		t.Fatalf("state file: %v", err)
	}
	for k, v := range map[string]any{"interface": "eth0", "ifindex": 3.0, "netns": "blue", "netns_inode": 4026532000.0, "mode": "skb"} {
		if keys[k] != v {
			t.Errorf("state file key %q = %v, want %v", k, keys[k], v)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v, %v", fi, err)
	}

	// A newer format is refused as such, naming it; an unknown older one
	// too; the previous format is read.
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"version": %d, "interface": "eth0"}`, stateVersion+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readState(path); !errors.Is(err, ErrNewerState) || !strings.Contains(err.Error(), fmt.Sprintf("state format %d", stateVersion+1)) {
		t.Errorf("version %d: %v", stateVersion+1, err)
	}
	if err := os.WriteFile(path, []byte(`{"version": 0, "interface": "eth0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readState(path); err == nil || !strings.Contains(err.Error(), "state version 0, want 1 to 2") {
		t.Errorf("version 0: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"version": 1, "interface": "eth0", "ifindex": 2, "programs": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := readState(path); err != nil || st.Version != 1 {
		t.Errorf("version 1: %+v, %v", st, err)
	}
	if err := os.WriteFile(path, []byte(`{"version": 1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readState(path); err == nil || !strings.Contains(err.Error(), "parsing") {
		t.Errorf("truncated state: %v", err)
	}
	if _, err := readState(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing state: %v, want fs.ErrNotExist", err)
	}
}

func TestStoredObjects(t *testing.T) {
	pd := newPinDir(Options{BPFFS: t.TempDir(), StateDir: t.TempDir()}, 1, 2)
	a, b := []byte("object a"), []byte("object b")
	ha, err := pd.storeObject(a)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a)
	if ha != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %s, want the sha256 of the object", ha)
	}
	if again, err := pd.storeObject(a); err != nil || again != ha {
		t.Errorf("storing again: %s, %v", again, err)
	}
	hb, err := pd.storeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	if hb == ha {
		t.Fatal("two objects share a hash")
	}
	for h, want := range map[string][]byte{ha: a, hb: b} {
		got, err := pd.loadObject(h)
		if err != nil || string(got) != string(want) {
			t.Errorf("loadObject(%s) = %q, %v; want %q", h, got, err, want)
		}
		fi, err := os.Stat(filepath.Join(pd.objectsDir(), h+".o"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("object file %s: %v, %v", h, fi, err)
		}
	}
	if _, err := pd.loadObject(strings.Repeat("0", 64)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loading a missing object: %v", err)
	}
	// A name from a forged state never reaches outside objects/.
	if _, err := pd.loadObject("../../../etc/passwd"); !errors.Is(err, ErrInvalid) {
		t.Errorf("loading an object named by a path: %v, want ErrInvalid", err)
	}

	pd.gcObjects(&state{Programs: []programState{{Object: ha}, {Object: ha}}})
	if names := dirNames(t, pd.objectsDir()); !reflect.DeepEqual(names, []string{ha + ".o"}) {
		t.Errorf("after gc: %v, want only %s.o", names, ha)
	}
	pd.gcObjects(&state{})
	if names := dirNames(t, pd.objectsDir()); len(names) != 0 {
		t.Errorf("after gc of an empty chain: %v", names)
	}
}

// TestRemoveAll removes real pins from a bpffs and the state, keeping the
// pin directory itself (another process may hold its lock).
func TestRemoveAll(t *testing.T) {
	vmtest.LogWhere(t)
	bpffs := testutil.PrivateBPFFS(t)
	pd := newPinDir(Options{BPFFS: bpffs, StateDir: t.TempDir()}, 1, 2)
	if err := os.MkdirAll(pd.progMaps("p"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pd.stats(), filepath.Join(pd.progMaps("p"), "hits")} {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Pin(p)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := writeState(pd.stateFile(), &state{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pd.storeObject([]byte("x")); err != nil {
		t.Fatal(err)
	}
	lock, err := lockDir(pd.bpf, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()

	if err := pd.removeAll(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, pd.bpf); len(names) != 0 {
		t.Errorf("pin directory still holds %v", names)
	}
	if _, err := os.Stat(pd.state); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory: %v, want it gone", err)
	}
	// Removing again is no error.
	if err := pd.removeAll(); err != nil {
		t.Errorf("second removeAll: %v", err)
	}
}

// TestLockDir takes the lock on a real bpffs directory and checks that it
// excludes other lockers, flock(2) callers and lockDir alike, until released.
func TestLockDir(t *testing.T) {
	vmtest.LogWhere(t)
	dir := filepath.Join(testutil.PrivateBPFFS(t), "xdpchain", "1", "2")
	l, err := lockDir(dir, true) // creates the directory
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("lock directory: %v, %v", fi, err)
	}

	tryLock := func() error {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err := tryLock(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("flock while locked: %v, want EWOULDBLOCK", err)
	}

	got := make(chan *dirLock, 1)
	go func() {
		l2, err := lockDir(dir, true)
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	select {
	case l2 := <-got:
		l2.Unlock()
		t.Fatal("a second lockDir acquired a held lock")
	case <-time.After(200 * time.Millisecond):
	}
	l.Unlock()
	l.Unlock() // idempotent
	var l2 *dirLock
	select {
	case l2 = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the second lockDir did not acquire the released lock")
	}
	if err := tryLock(); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("flock while the second locker holds it: %v, want EWOULDBLOCK", err)
	}
	l2.Unlock()
	if err := tryLock(); err != nil {
		t.Errorf("flock after every unlock: %v", err)
	}
	var nilLock *dirLock
	nilLock.Unlock() // no panic
}

// TestLockDirAfterDetach: a process waiting for an interface's lock while
// a detach holds it and removes the directory finds, once the lock is
// released, that the root is gone, and makes no directory: one made only
// to be locked would be left behind empty. A process creating a root
// (create) makes it again.
func TestLockDirAfterDetach(t *testing.T) {
	for _, create := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "4026531840", "2")
		holder, err := lockDir(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		type result struct {
			l   *dirLock
			err error
		}
		got := make(chan result, 1)
		go func() {
			l, err := lockDir(dir, create)
			got <- result{l, err}
		}()
		// Wait until the waiter blocks in flock (a "->" line in /proc/locks
		// on the directory's inode).
		waiting := fmt.Sprintf(":%d ", st.Ino)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			b, err := os.ReadFile("/proc/locks")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, line := range strings.Split(string(b), "\n") {
				found = found || (strings.Contains(line, "->") && strings.Contains(line, waiting))
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second lockDir does not wait for the lock:\n%s", b)
			}
		}
		// The detach: the directory goes under the lock.
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		holder.Unlock()
		r := <-got
		_, statErr := os.Stat(dir)
		if create {
			if r.err != nil || statErr != nil {
				t.Errorf("create: lockDir %v, directory %v; want it made again and locked", r.err, statErr)
			}
		} else if !errors.Is(r.err, fs.ErrNotExist) || !errors.Is(statErr, fs.ErrNotExist) {
			t.Errorf("lockDir after the detach: %v, directory %v; want fs.ErrNotExist and no directory", r.err, statErr)
		}
		if r.l != nil {
			r.l.Unlock()
		}
	}
}
