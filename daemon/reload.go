package daemon

import (
	"context"
	"fmt"

	"github.com/xdpchain/xdpchain/api"
)

// Reloads come from three places: SIGHUP (Options.Reload), the config
// file's watcher (configwatch.go) and the control socket's Reload request
// (`xdpchain reload`, the unit's ExecReload), whose caller waits for the
// outcome. They are done one at a time by Run's loop, and coalesced:
//   - every reload asked for while one waits to run is done by that one
//     (it reads the newest file), and each waiting caller gets its outcome;
//   - the watcher's change is dropped when a reload already read that
//     content (a file edit followed by SIGHUP or `xdpchain reload` is one
//     reload, whichever is seen first).
// SIGHUP and the Reload request always reload, even when the file did not
// change: that is how an operator starts a plugin that gave up again, or
// picks up a [[program]]'s object rewritten in place.

// reloadOutcome answers a caller waiting for a reload.
type reloadOutcome struct {
	res *api.ReloadResult
	err error
}

// reloads does one reload for the trigger Run's loop received (explicit:
// SIGHUP or a request, whose waiter is w; else the watcher's) and for every
// other trigger already queued.
func (d *Daemon) reloads(ctx context.Context, explicit bool, w chan<- reloadOutcome) {
	var waiters []chan<- reloadOutcome
	if w != nil {
		waiters = append(waiters, w)
	}
drain:
	for {
		select {
		case <-d.opts.Reload:
			explicit = true
		case <-d.configChanged:
		case w := <-d.reloadReqs:
			explicit = true
			waiters = append(waiters, w)
		default:
			break drain
		}
	}
	if !explicit && configSum(d.opts.ConfigPath) == *d.lastRead.Load() {
		d.log.Debug("config file change already reloaded", "config", d.opts.ConfigPath)
		return
	}
	res, err := d.reloadNotify(ctx)
	for _, w := range waiters {
		w <- reloadOutcome{res, err} // buffered: never blocks
	}
}

// requestReload asks Run's loop for a reload and waits for its outcome.
func (d *Daemon) requestReload(ctx context.Context) (*api.ReloadResult, error) {
	w := make(chan reloadOutcome, 1)
	select {
	case d.reloadReqs <- w:
	case <-d.done:
		return nil, fmt.Errorf("%w: the daemon stopped", api.ErrNotRunning)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case o := <-w:
		return o.res, o.err
	case <-d.done:
		return nil, fmt.Errorf("%w: the daemon stopped before the reload", api.ErrNotRunning)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
