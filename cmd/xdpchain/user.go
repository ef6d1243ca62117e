package main

import (
	"os"

	"github.com/xdpchain/xdpchain/chain"
)

// currentUser is the CLI's user as a chain editor.
func currentUser() chain.Actor { return chain.Actor{UID: uint32(os.Getuid())} }
