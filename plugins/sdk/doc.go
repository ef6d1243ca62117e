// Package sdk is everything an xdpchain plugin author imports.
//
// A plugin is a separate binary that the xdpchain daemon starts and talks to
// over gRPC (hashicorp/go-plugin, hidden behind this package). It describes
// an XDP program (usually a go:embed'ded BPF object), the daemon puts that
// program into the interface's dispatcher chain, creates its maps, and then
// configures the plugin with its settings table and handles to its own maps.
//
// The plugin's main is one call:
//
//	func main() { sdk.Serve(&myPlugin{}) }
//
// (ServeContext instead returns when the daemon stops the plugin or a
// context ends, for plugins with work of their own to stop), where myPlugin
// implements Plugin:
//
//   - Describe returns the Description: name, version, BPF object, program
//     name and chain defaults (priority, proceed-on, allowed verdicts, frags).
//   - Configure receives the settings (decode them with Settings.Decode), the
//     plugin's maps (Maps.Map gives a Map with Lookup, Update, Delete,
//     BatchUpdate and Iterate; MapOf a TypedMap for a bpf2go-generated map
//     spec) and a Host handle through which the plugin can
//     ask the daemon to replace its program or change its settings. Configure
//     is called again when the settings change (for example on SIGHUP); the
//     program keeps running and keeps its maps, so a plugin applies new
//     settings by updating maps.
//   - Health reports whether the plugin is well.
//
// A plugin that implements Validator has its settings checked before they
// are applied (on reload, and by `xdpchain run --check`).
//
// Verdict is xdp.Verdict: the SDK imports neither netlink nor the
// dispatcher.
//
// Map access works the same whether the plugin process is privileged (it
// opens its pinned maps directly) or not (every operation goes to the daemon
// over go-plugin's broker, which only serves that plugin's own maps).
//
// Logger returns the plugin's *slog.Logger: the daemon logs its records at
// their level, with their attributes, tagged with the plugin's name and
// interface, in the daemon's format. Other lines on stderr and stdout are
// logged too, at info.
//
// Package sdktest (plugins/sdk/sdktest) is the test kit: the object loaded
// standalone, test packets, BPF_PROG_TEST_RUN, and the plugin run as a
// process as the daemon would.
//
// See docs/plugin-guide.md.
package sdk
