package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
	"github.com/xdpchain/xdpchain/internal/vmtest"
)

// noopConfig adds a [[program]] "noop" to countConfig's chain.
const noopConfig = "\n[[program]]\nname = \"noop\"\nobject = \"noop.o\"\ninterfaces = [\"%[1]s\"]\npriority = 60\n"

// within is how soon a config change must be in force: 5 s, or ten times
// that under the VMs' emulation.
func within() time.Duration {
	if vmtest.InVM() {
		return 50 * time.Second
	}
	return 5 * time.Second
}

// waitChain polls the managed interface's chain until it is want, and
// fails the test when that took longer than within() since since.
func (f *fixture) waitChain(want string, since time.Time) {
	f.t.Helper()
	for {
		got := f.chain()
		if got == want {
			f.t.Logf("chain %q after %v", got, time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Since(since) > within() {
			f.t.Fatalf("chain %q, want %q within %v of the config change", got, want, within())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConfigFileWatched: replacing the config file (as an editor does,
// with a rename) reloads it, as SIGHUP would, service manager
// notifications included; a file that does not validate changes nothing.
func TestConfigFileWatched(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	path := f.writeConfig("", countConfig(0))
	n := listenNotify(t, f.dir)
	f.start(daemon.Options{WatchConfig: true, NotifySocket: n.path})
	n.expect("READY=1", nil)
	if got := f.chain(); got != "count(config:count)" {
		t.Fatalf("chain %q", got)
	}

	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(content string) time.Time {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	changed := replace(string(src) + strings.ReplaceAll(noopConfig, "%[1]s", f.ref()))
	n.expect("RELOADING=1", nil)
	n.expect("READY=1", nil)
	f.waitChain("count(config:count) noop(config:noop)", changed)

	// A broken file is refused (the reload's READY=1 says so) and the
	// chain stays.
	replace(string(src) + "\n[[program]]\nname = \"broken\"\n")
	n.expect("RELOADING=1", nil)
	if msg := n.expect("READY=1", nil); len(msg) < 2 || !strings.Contains(msg[1], "reload refused") {
		t.Errorf("READY=1 after a broken file: %q, want its STATUS to say the reload was refused", msg)
	}
	if got := f.chain(); got != "count(config:count) noop(config:noop)" {
		t.Errorf("chain after a broken file %q", got)
	}
	// Back to the first file: noop goes.
	f.waitChain("count(config:count)", replace(string(src)))
}

// TestConfigMapSwapWatched: a config mounted from a Kubernetes ConfigMap
// is a symlink into ..data, itself a symlink to a timestamped directory
// that the kubelet replaces atomically (a new directory, a new ..data
// renamed over the old one). The swap reloads the config.
func TestConfigMapSwapWatched(t *testing.T) {
	vmtest.LogWhere(t)
	f := newX11Fixture(t)
	f.writeConfig("", countConfig(0))
	src, err := os.ReadFile(filepath.Join(f.dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// Objects by absolute path: the config's directory is the mount's.
	abs := strings.NewReplacer(`"counter.o"`, `"`+filepath.Join(f.dir, "counter.o")+`"`, `"noop.o"`, `"`+filepath.Join(f.dir, "noop.o")+`"`)
	first := abs.Replace(string(src))
	second := abs.Replace(string(src) + strings.ReplaceAll(noopConfig, "%[1]s", f.ref()))

	mount := t.TempDir()
	version := 0
	// publish writes content the way the kubelet's atomic writer does.
	publish := func(content string) time.Time {
		t.Helper()
		version++
		dir := filepath.Join(mount, "..2026_12_01_00_00_0"+string(rune('0'+version)))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		old, _ := os.Readlink(filepath.Join(mount, "..data"))
		tmp := filepath.Join(mount, "..data_tmp")
		if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(mount, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			if err := os.RemoveAll(filepath.Join(mount, old)); err != nil {
				t.Fatal(err)
			}
		}
		return time.Now()
	}
	publish(first)
	path := filepath.Join(mount, "config.toml")
	if err := os.Symlink("..data/config.toml", path); err != nil {
		t.Fatal(err)
	}
	// The first config is the same as the mounted one; reloads read the mount.
	f.start(daemon.Options{WatchConfig: true, ConfigPath: path})
	if got := f.chain(); got != "count(config:count)" {
		t.Fatalf("chain %q", got)
	}
	f.waitChain("count(config:count) noop(config:noop)", publish(second))
	f.waitChain("count(config:count)", publish(first))
}
