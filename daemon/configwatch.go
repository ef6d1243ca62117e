package daemon

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Config file watching (Options.WatchConfig): the daemon reloads when the
// content of its config file changes, as on SIGHUP. It watches the
// directory of the config path and the directory of the file it resolves
// to, so that an editor's rename over the file and the kubelet's swap of a
// ConfigMap's ..data symlink are both seen, and compares the content
// (followed through symbolic links) with what the last reload read
// (Daemon.lastRead), so that a change a reload already applied is not
// applied twice (reload.go). A periodic check backs the events up (file
// systems without inotify).
const (
	// configSettle lets a burst of events (write, chmod, rename) settle
	// before the file is read.
	configSettle = 200 * time.Millisecond
	// configPoll is the backstop: the file is compared this often.
	configPoll = 2 * time.Second
)

// configWatch follows the content of the config file.
type configWatch struct {
	d    *Daemon
	path string
	w    *fsnotify.Watcher
	dirs map[string]bool // watched directories
}

// configSum hashes the file's content through symbolic links; zero when
// it cannot be read or is empty (a writer that truncated it and has not
// written yet: reloading that would take every program out).
func configSum(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}

// watchConfig starts watching the config file; a change sends on
// d.configChanged. stop ends it and waits for it.
func (d *Daemon) watchConfig(ctx context.Context) (stop func()) {
	cw := &configWatch{d: d, path: d.opts.ConfigPath, dirs: make(map[string]bool)}
	var err error
	if cw.w, err = fsnotify.NewWatcher(); err != nil {
		d.log.Warn("watching the config file failed; it is checked every few seconds only", "config", cw.path, "error", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		cw.run(ctx)
	}()
	return func() {
		cancel()
		<-finished
	}
}

// follow watches the directories the config path goes through now: its
// own, and the resolved file's (a ConfigMap's current ..data target).
func (cw *configWatch) follow() {
	if cw.w == nil {
		return
	}
	want := map[string]bool{filepath.Dir(cw.path): true}
	if real, err := filepath.EvalSymlinks(cw.path); err == nil {
		want[filepath.Dir(real)] = true
	}
	for dir := range cw.dirs {
		if !want[dir] {
			cw.w.Remove(dir)
			delete(cw.dirs, dir)
		}
	}
	for dir := range want {
		if cw.dirs[dir] {
			continue
		}
		if err := cw.w.Add(dir); err != nil {
			cw.d.log.Debug("watching a config directory failed", "dir", dir, "error", err)
			continue
		}
		cw.dirs[dir] = true
	}
}

func (cw *configWatch) run(ctx context.Context) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if cw.w != nil {
		defer cw.w.Close()
		events, errs = cw.w.Events, cw.w.Errors
	}
	cw.follow()
	poll := time.NewTicker(configPoll)
	defer poll.Stop()
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
			// Debounce: read the file once the events have stopped.
			settle = time.After(configSettle)
		case err := <-errs:
			cw.d.log.Debug("config file events", "error", err)
		case <-settle:
			settle = nil
			cw.follow()
			cw.check()
		case <-poll.C:
			cw.follow()
			cw.check()
		}
	}
}

// check asks for a reload when the content is not what the last reload
// read. An unreadable or empty file (mid-swap, mid-write, or deleted) is
// not a change: the config in force stays until a readable one appears.
// The loop checks again before reloading (reload.go): a reload asked for
// otherwise may have read it meanwhile.
func (cw *configWatch) check() {
	sum := configSum(cw.path)
	if sum == *cw.d.lastRead.Load() || sum == ([sha256.Size]byte{}) {
		return
	}
	cw.d.log.Info("config file changed; reloading", "config", cw.path)
	select {
	case cw.d.configChanged <- struct{}{}:
	default: // a reload is already pending; it reads the newest file
	}
}

// withConfigWatch starts the config watcher when Options.WatchConfig asks
// for it; the stop it returns also stops stop.
func (d *Daemon) withConfigWatch(ctx context.Context, stop func()) func() {
	if !d.opts.WatchConfig {
		return stop
	}
	stopWatch := d.watchConfig(ctx)
	return func() {
		stopWatch()
		stop()
	}
}
