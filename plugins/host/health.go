package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// HealthStatus is the result of the last background health check.
type HealthStatus struct {
	// Time of the check; zero before the first.
	Time time.Time
	// Err is nil when the plugin was healthy.
	Err error
	// Failures counts consecutive failed checks.
	Failures int
}

// Health checks that the process answers (gRPC health) and that the plugin
// reports itself well. Errors wrap ErrUnhealthy or ErrExited.
func (p *Plugin) Health(ctx context.Context) error {
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: %w", p.opts.Name, ErrExited)
	default:
	}
	if err := p.rpc.Ping(); err != nil {
		return p.rpcError("health check", ErrUnhealthy, ctx, err)
	}
	if _, err := p.pc.Plugin.Health(ctx, &pluginpb.HealthRequest{}); err != nil {
		return p.rpcError("health check", ErrUnhealthy, ctx, err)
	}
	return nil
}

// LastHealth returns the result of the last background health check
// (Options.HealthInterval).
func (p *Plugin) LastHealth() HealthStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastHealth
}

// startHealthLoop checks the plugin's health every HealthInterval, each
// check bounded by the interval.
func (p *Plugin) startHealthLoop() {
	if p.opts.HealthInterval <= 0 {
		return
	}
	p.runHealthLoop(p.opts.HealthInterval, p.opts.HealthInterval)
}

// runHealthLoop checks the plugin's health every interval until it exits,
// each check bounded by timeout (a check still running when the next is
// due delays it), and records and logs the results.
func (p *Plugin) runHealthLoop(interval, timeout time.Duration) {
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.exited:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := p.Health(ctx)
			cancel()
			p.mu.Lock()
			prev := p.lastHealth.Err
			p.lastHealth.Time, p.lastHealth.Err = time.Now(), err
			if err != nil {
				p.lastHealth.Failures++
			} else {
				p.lastHealth.Failures = 0
			}
			p.mu.Unlock()
			p.logHealthChange(prev, err)
		}
	}()
}

// logHealthChange logs a health check whose result differs from the one
// before: turning unhealthy (or failing for another reason) at warn, well
// again at info. A plugin that exits or is being stopped is not reported
// here: its exit is.
func (p *Plugin) logHealthChange(prev, err error) {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.logs.stopping.Load() || errors.Is(err, ErrExited) {
		return
	}
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		p.logs.log.Warn("plugin unhealthy", "error", healthReason(p.opts.Name, err))
	case err == nil && prev != nil:
		p.logs.log.Info("plugin healthy again", "was", healthReason(p.opts.Name, prev))
	}
}

// healthReason is a health error without the "plugin NAME: " its message
// starts with: the record names the plugin already.
func healthReason(name string, err error) string {
	return strings.TrimPrefix(err.Error(), "plugin "+name+": ")
}
