package host

import (
	"fmt"
	"time"

	"google.golang.org/grpc"

	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// serveHost starts the broker server with the Maps and Host services once.
func (p *Plugin) serveHost() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.brokerID != 0 {
		return p.brokerID, nil
	}
	if p.pc.Broker == nil {
		return 0, nil
	}
	id := p.pc.Broker.NextId()
	// AcceptAndServe registers the broker id before it builds the server:
	// wait for that, so the plugin never dials an id the broker does not
	// know yet (its connection would go to the default listener and hang).
	accepted := make(chan struct{})
	go p.pc.Broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		close(accepted)
		s := grpc.NewServer(opts...)
		pluginpb.RegisterMapsServer(s, &mapsServer{p: p})
		pluginpb.RegisterHostServer(s, &hostServer{p: p})
		return s
	})
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("plugin %s: serving host services on the broker: not accepted", p.opts.Name)
	}
	p.brokerID = id
	return id, nil
}
