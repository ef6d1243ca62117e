// Command xdpchain keeps a chain of XDP programs on an interface behind one
// pinned root dispatcher. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], newEnv()))
}
