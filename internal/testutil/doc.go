// Package testutil is xdpchain's test kit, one home for what the privileged
// tests of every package share:
//
//   - network namespaces and veth pairs created for one test and removed
//     after it (netns.go, veth.go, neighbour.go), and a private bpffs
//     (bpffs.go);
//   - traffic sent and counted inside those namespaces: UDP datagrams
//     (SendUDP, ListenUDP), a paced numbered flow (StartPacedUDP) and ICMP
//     echo (ping.go);
//   - the one packet builder (packet.go: UDPPacket, TCPPacket, ...) for
//     BPF_PROG_TEST_RUN (RunXDP), which plugins/sdk/sdktest re-exports;
//   - the binaries tests run as processes: XDPChainBinary (the CLI) and
//     PluginBinary (a plugin), taken from the environment
//     (internal/testenv) or built once per test run;
//   - checks for root (RequireRoot) and for leaked file descriptors
//     (RunWithFDCheck, from TestMain).
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
