// Package testutil holds helpers for xdpchain's privileged tests: network
// namespaces and veth pairs created for one test and removed after it,
// traffic (UDP, ICMP echo) sent and counted inside those namespaces,
// hand-built packets for BPF_PROG_TEST_RUN, and checks for root and for
// leaked file descriptors.
//
// Every helper that changes network namespace does so on a locked OS thread
// of a goroutine of its own, which is discarded if the original namespace
// cannot be restored: the caller's thread never changes namespace. Sockets
// keep the namespace they were created in, so traffic helpers create their
// sockets inside the namespace and use them from ordinary goroutines.
//
// Traffic stays inside the namespaces a test creates; addresses come from
// 10.99.0.0/16 and 2001:db8:99::/48.
package testutil
