// Package plugins is the home of xdpchain's plugin system: separate binaries
// that put XDP programs into the dispatcher chain through the daemon, talking
// to it over hashicorp/go-plugin (gRPC).
//
//   - proto: the versioned gRPC contract (xdpchain.plugin.v1) and its
//     generated code.
//   - sdk: all a plugin author imports; a plugin's main is sdk.Serve(...).
//   - host: the daemon's side: start, checksum, handshake, describe,
//     configure, broker services (Maps, Host), health, exit detection.
//   - blocklist, ratelimit: example plugins (BPF C + Go), with their
//     binaries under cmd/.
//
// The plugin author's guide is docs/plugin-guide.md.
package plugins
