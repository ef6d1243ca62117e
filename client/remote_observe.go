package client

import (
	"context"
	"fmt"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Observe implements Client.
func (r *Remote) Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (Observer, error) {
	return nil, fmt.Errorf("%w: observing through the daemon", dispatcher.ErrInvalid)
}
