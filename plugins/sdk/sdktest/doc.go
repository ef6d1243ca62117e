// Package sdktest is the test kit for xdpchain plugin authors: what a
// plugin's tests need, from BPF semantics to a real plugin process.
//
//   - RequireRoot skips a test that needs root (loading BPF programs,
//     mounting bpffs) when it does not run as root.
//   - Load and LoadPlugin load a plugin's BPF object standalone, as a plain
//     XDP program with maps of its own (no dispatcher, no daemon, no bpffs),
//     and give its maps as the *sdk.Maps that Configure receives;
//     LoadObjects does the same for the objects struct bpf2go generates.
//   - UDP, TCP, IP, Ethernet and VLAN build test packets (Ethernet frames
//     over IPv4 or IPv6, with valid lengths and checksums).
//   - Run runs one packet through a program with BPF_PROG_TEST_RUN and
//     returns its verdict; RunResult also returns the packet as the program
//     left it.
//   - Build and Start run the plugin as a process, as the daemon would:
//     Build compiles its main package (go build), Start starts the binary
//     through the daemon's own code (plugins/host), creates and pins the
//     maps of the object it describes in a private bpffs, loads its program
//     on them and configures the plugin with its settings; the Process holds
//     the program and the maps.
//
// A typical unit test of a plugin:
//
//	func TestDrop(t *testing.T) {
//		obj := sdktest.LoadPlugin(t, myfilter.New()) // skips without root
//		p := myfilter.New()
//		if err := obj.Configure(p, `{"ports": [53]}`); err != nil {
//			t.Fatal(err)
//		}
//		pkt := sdktest.UDP(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("192.0.2.2:53"), nil)
//		if v := obj.Run(t, pkt); v != sdk.Drop {
//			t.Errorf("verdict %s, want drop", v)
//		}
//	}
//
// Machines without a Go toolchain (a test VM) run prebuilt plugin binaries:
// when $XDPCHAIN_PLUGIN_DIR is set, Build returns the binary of the package's
// base name in that directory instead of building it.
//
// See docs/plugin-guide.md, "Testing a plugin".
package sdktest
