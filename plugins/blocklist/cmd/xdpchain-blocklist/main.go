// Command xdpchain-blocklist is the blocklist plugin binary; the xdpchain
// daemon starts it (see docs/plugin-guide.md).
package main

import (
	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

func main() { sdk.Serve(blocklist.New()) }
