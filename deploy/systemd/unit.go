// Package systemd holds xdpchain's systemd unit, deploy/systemd/xdpchain.service,
// embedded so that tests built for other machines (the VM harness copies
// only testdata directories) carry it.
package systemd

import _ "embed"

// Unit is the text of xdpchain.service.
//
//go:embed xdpchain.service
var Unit string
