// Package contract holds what both ends of the go-plugin connection must
// agree on: the handshake, the protocol version, the plugin set and the
// go-plugin adapter that binds the generated gRPC code to it.
package contract
