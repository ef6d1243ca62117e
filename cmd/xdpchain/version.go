package main

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

// registerPackaging gives the root command --version (the version, commit
// and Go version on one line) and the hidden man verb.
func registerPackaging(root *cobra.Command, env *cliEnv) {
	root.Version = readBuildInfo().Short()
	root.AddCommand(newManCmd(env))
}

// version is set at link time, from `git describe` (see
// deploy/debian/version.sh and `make deb`):
//
//	go build -ldflags "-X main.version=1.2.3" ./cmd/xdpchain
var version string

// versionString is what `xdpchain --version` prints: the linked-in
// version, else the module version Go recorded (go install …@v1.2.3), else
// 0.0.0-dev.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.0.0-dev"
}
