// Command xdpchain-ratelimit is the ratelimit plugin binary; the xdpchain
// daemon starts it (see docs/plugin-guide.md).
package main

import (
	"github.com/xdpchain/xdpchain/plugins/ratelimit"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

func main() { sdk.Serve(ratelimit.New()) }
