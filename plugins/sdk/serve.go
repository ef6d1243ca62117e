package sdk

import (
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Serve runs the plugin until the daemon stops it. It is the whole main of a
// plugin binary:
//
//	func main() { sdk.Serve(&blocklist.Plugin{}) }
//
// Started by hand instead of by the daemon, the binary prints that it is a
// plugin and exits with status 1.
//
// A plugin exits when the daemon that started it dies: its program keeps
// serving traffic, and the next daemon starts a fresh instance.
func Serve(p Plugin) {
	go watchParent(os.Getppid(), os.Getppid, parentCheckInterval, exitOrphaned)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: contract.Handshake,
		VersionedPlugins: contract.VersionedPlugins(&contract.GRPCPlugin{
			NewServer: func(b *plugin.GRPCBroker) pluginpb.PluginServer { return newServer(p, b) },
		}),
		GRPCServer: plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "sdk",
			Output:     os.Stderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
}

// Logger returns a logger for plugin code. Its records go to the daemon,
// which logs them under the plugin's name at their level.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.TimeKey:
				a.Key = "@timestamp"
			}
			return a
		},
	}))
}
