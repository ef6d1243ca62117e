package host

import (
	"context"
	"fmt"

	"google.golang.org/grpc/status"
)

// rpcError explains a failed call: the process exited, the deadline
// passed, or the plugin returned an error (wrapped with kind).
func (p *Plugin) rpcError(what string, kind error, ctx context.Context, err error) error {
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: %s: %w%s", p.opts.Name, what, ErrExited, p.stderrSuffix())
	default:
	}
	if p.client != nil && p.client.Exited() {
		return fmt.Errorf("plugin %s: %s: %w%s", p.opts.Name, what, ErrExited, p.stderrSuffix())
	}
	if ctx.Err() != nil && what == "describing" {
		return fmt.Errorf("plugin %s: %s: %w: %w", p.opts.Name, what, ErrStartTimeout, ctx.Err())
	}
	// kind says what was being done ("configuring plugin"): what would
	// only repeat it.
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("plugin %s: %w: %s", p.opts.Name, kind, st.Message())
	}
	return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, kind, err)
}

func (p *Plugin) stderrSuffix() string {
	if s := p.stderr.String(); s != "" {
		return "; plugin stderr: " + s
	}
	return ""
}
