// Package plugins is the home of xdpchain's plugin system: separate binaries
// that put XDP programs into the dispatcher chain through the daemon, talking
// to it over hashicorp/go-plugin (gRPC).
//
//   - proto: the versioned gRPC contract (xdpchain.plugin.v1) and its
//     generated code.
//   - sdk: all a plugin author imports; a plugin's main is sdk.Serve(...).
//   - host: the daemon's side: start, checksum, handshake, describe,
//     configure, broker services (Maps, Host), health, exit detection.
//   - sdk/sdktest: the plugin author's test kit (standalone loading, test
//     packets, BPF_PROG_TEST_RUN, the plugin run as a process).
//   - blocklist, ratelimit: example plugins (BPF C + Go), with their
//     binaries under cmd/.
//   - internal/contract (the handshake and go-plugin adapter both ends
//     share), internal/rawmap (map operations on raw bytes, for the SDK and
//     the host's broker), internal/plugintest and internal/bpffstest (the
//     shared prelude of these packages' tests).
//
// The plugin author's guide is docs/plugin-guide.md.
package plugins
