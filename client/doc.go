// Package client is the one way to change a chain: the Client interface,
// with a Local implementation that works on the pins (dispatcher.Root) and
// a Remote one that asks a running daemon over its control socket. Both
// perform the same chain operations (package chain), so a request means
// the same whether or not a daemon runs; Connect picks one. Remote is the one
// client of the daemon's control socket (Dial); it imports the control API
// (packages api and daemon/controlpb) and never the daemon, so a Go program
// that uses it builds without the plugin host or Prometheus.
package client
