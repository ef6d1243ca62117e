package xdp

import "errors"

// ErrPermission: the caller may not do this. It is the one permission error
// of xdpchain: chain.ErrPermission (a chain edit or a daemon request refused
// by grants or ownership) and sdk.ErrPermission (a plugin's map operation
// refused by the daemon) are this error, so errors.Is matches it whichever
// layer refused.
var ErrPermission = errors.New("permission denied")
