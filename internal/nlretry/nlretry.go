// Package nlretry retries netlink dumps that the kernel interrupted.
//
// A netlink dump (LinkList, AddrList, RouteList, NeighList, ...) that runs
// while the table changes is flagged NLM_F_DUMP_INTR; vishvananda/netlink
// v1.3 then returns its partial results with netlink.ErrDumpInterrupted
// ("results may be incomplete or inconsistent"). Such a result is thrown
// away and the dump done again. Every dump in xdpchain, production code and
// test helpers alike, goes through Dump.
package nlretry

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Attempts bounds how often Dump runs a dump that keeps being interrupted.
const Attempts = 10

// Dump runs dump until it is not interrupted, at most Attempts times. Any
// other error is returned at once. When every attempt was interrupted, the
// error wraps netlink.ErrDumpInterrupted and says how often.
func Dump[T any](dump func() (T, error)) (T, error) {
	var zero T
	for i := 1; ; i++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
		if i == Attempts {
			return zero, fmt.Errorf("%w (interrupted %d times in a row)", err, i)
		}
	}
}
