// Package pluginpb is the versioned gRPC contract between the xdpchain daemon
// and its plugins (plugin.proto, package xdpchain.plugin.v1) and its generated
// code. Plugin authors use package sdk instead; the daemon uses package host.
package pluginpb
