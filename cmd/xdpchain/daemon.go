package main

import (
	"context"
	"errors"
	"time"

	"github.com/xdpchain/xdpchain/daemon"
)

// withDaemon runs fn against the daemon's control socket when a daemon
// serves it, and reports whether it did. With --no-daemon, or when no daemon
// runs (daemon.ErrNotRunning), it returns false and the verb works on the
// pins directly. Any other error is the daemon's answer and is returned.
func (e *cliEnv) withDaemon(fn func(ctx context.Context, c *daemon.Client) error) (bool, error) {
	if e.noDaemon {
		return false, nil
	}
	c, err := daemon.Dial(e.socket)
	if errors.Is(err, daemon.ErrNotRunning) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return true, fn(ctx, c)
}
