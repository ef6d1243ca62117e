// Command portcount is the portcount plugin's binary.
package main

import (
	"example.com/portcount"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

func main() { sdk.Serve(portcount.New()) }
