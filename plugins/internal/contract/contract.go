package contract

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// ProtocolVersion is the go-plugin protocol version of plugin.proto's
// package xdpchain.plugin.v1.
const ProtocolVersion = 1

// PluginName is the name under which the plugin is dispensed.
const PluginName = "xdpchain"

// Handshake is the go-plugin handshake. The magic cookie only tells a user
// who runs a plugin binary by hand that it is not a command; it is not a
// security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "XDPCHAIN_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "b7f3c1d2-xdpchain-plugin-v1",
}

// EnvLogLevel is set in a plugin process's environment to the lowest level
// the daemon logs, in slog's notation (DEBUG, INFO, WARN, ERROR, DEBUG-4):
// the plugin's loggers skip records below it.
const EnvLogLevel = "XDPCHAIN_PLUGIN_LOG_LEVEL"

// GRPCPlugin adapts the generated code to go-plugin. The plugin process
// sets NewServer (sdk.GRPCPlugin); the host leaves it nil.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	NewServer func(broker *plugin.GRPCBroker) pluginpb.PluginServer
}

// Client is what the host gets from Dispense.
type Client struct {
	Plugin pluginpb.PluginClient
	Broker *plugin.GRPCBroker
}

// GRPCServer registers the plugin's server.
func (p *GRPCPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServer(s, p.NewServer(broker))
	return nil
}

// GRPCClient returns a *Client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{Plugin: pluginpb.NewPluginClient(c), Broker: broker}, nil
}

// VersionedPlugins returns the plugin sets of every protocol version this
// build speaks, for ServeConfig and ClientConfig.
func VersionedPlugins(p *GRPCPlugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: p},
	}
}
