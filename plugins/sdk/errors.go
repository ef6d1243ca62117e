package sdk

import (
	"errors"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/xdp"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrKeyNotExist: a lookup or delete found no such key. It is
	// ebpf.ErrKeyNotExist, whichever way the map is accessed.
	ErrKeyNotExist = ebpf.ErrKeyNotExist
	// ErrKeyExist: an update with UpdateNoExist found the key present.
	ErrKeyExist = ebpf.ErrKeyExist
	// ErrNoSuchMap: the plugin has no map of that name.
	ErrNoSuchMap = errors.New("no such map")
	// ErrNoSuchInterface: the plugin has no maps for that interface.
	ErrNoSuchInterface = errors.New("no maps for interface")
	// ErrPermission: the daemon refused a map operation (not the plugin's
	// map). It is xdp.ErrPermission, the one permission error.
	ErrPermission = xdp.ErrPermission
	// ErrEncoding: a key or value could not be encoded or decoded for the
	// map (wrong size or type).
	ErrEncoding = errors.New("encoding map key or value")
	// ErrNoHost: the daemon offered no host services (no broker).
	ErrNoHost = errors.New("no host services")
	// ErrRefused: the daemon refused a request made through Host.
	ErrRefused = errors.New("request refused by the daemon")
)
