package client

import (
	"context"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// Observe implements Client.
func (r *Remote) Observe(ctx context.Context, itf chain.Interface, p dispatcher.Probe) (Observer, error) {
	o, err := r.c.Observe(ctx, itf, p)
	if err != nil {
		return nil, err
	}
	return o, nil
}
