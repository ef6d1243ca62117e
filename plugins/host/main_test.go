package host

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/xdpchain/xdpchain/internal/testutil"
	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// helperEnv makes the test binary act as a (bad) plugin or a tiny daemon
// instead of running the tests.
const helperEnv = "XDPCHAIN_HOST_TEST_HELPER"

// markerEnv names the file a helper writes what happened to.
const markerEnv = "XDPCHAIN_HOST_TEST_MARKER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		os.Exit(0)
	}
	code := testutil.RunWithFDCheck(m)
	CleanupAll()
	os.Exit(code)
}

func runHelper(mode string) {
	switch mode {
	case "badcookie":
		// A go-plugin server expecting another cookie: exits at once.
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "OTHER_PLUGIN_COOKIE", MagicCookieValue: "other"},
			Plugins:         plugin.PluginSet{contract.PluginName: &contract.GRPCPlugin{}},
			GRPCServer:      plugin.DefaultGRPCServer,
		})
	case "badversion":
		// Our cookie, but only protocol version 2.
		hs := contract.Handshake
		hs.ProtocolVersion = 2
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{2: {contract.PluginName: &contract.GRPCPlugin{NewServer: func(*plugin.GRPCBroker) pluginpb.PluginServer { return nil }}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
	case "hang":
		time.Sleep(time.Hour)
	case "exit":
		fmt.Fprintln(os.Stderr, "helper: cannot read /etc/xdpchain/feed.json")
		os.Exit(3)
	case "probe":
		sdk.Serve(newProbe())
	case "servecontext":
		// ServeContext until the daemon stops it or SIGTERM; then say why
		// in the marker file, as a plugin's cleanup would run.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := sdk.ServeContext(ctx, newProbe())
		stop()
		if werr := os.WriteFile(os.Getenv(markerEnv), []byte(fmt.Sprint(err)), 0o644); werr != nil {
			os.Exit(4)
		}
	case "cleanup":
		// A tiny daemon: start a plugin, report its pid, CleanupAll, exit.
		p, err := Start(testContext(), Options{Name: "cleanup", Command: os.Getenv("XDPCHAIN_HOST_TEST_PLUGIN")})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("PID", p.Pid())
		CleanupAll()
		fmt.Println("DONE")
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		os.Exit(2)
	}
}

// helperCommand returns Options that run this test binary in a helper mode.
func helperOptions(name, mode string) Options {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return Options{Name: name, Command: exe, Env: []string{helperEnv + "=" + mode}, StartTimeout: 5 * time.Second}
}

// pluginBinary returns the binary of the example plugin named (built once
// per test run, or prebuilt in $XDPCHAIN_PLUGIN_DIR).
func pluginBinary(t *testing.T, name string) string {
	t.Helper()
	pkg := map[string]string{
		"xdpchain-blocklist": "github.com/xdpchain/xdpchain/plugins/blocklist/cmd/xdpchain-blocklist",
		"xdpchain-ratelimit": "github.com/xdpchain/xdpchain/plugins/ratelimit/cmd/xdpchain-ratelimit",
	}[name]
	if pkg == "" {
		t.Fatalf("no example plugin %q", name)
	}
	return testutil.PluginBinary(t, pkg)
}
