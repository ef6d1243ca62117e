package dispatcher

import (
	"path/filepath"
	"sort"

	"github.com/cilium/ebpf"
)

// The built-in AF_XDP program (bpf/xsk.c): it redirects each packet to the
// AF_XDP socket bound to its RX queue in its XSKMAP, and passes it on (the
// chain continues) when no socket is bound there.
const (
	// XSKProgramName is its function in XSKObject.
	XSKProgramName = "xdpchain_xsk"
	// XSKMapName is its XSKMAP, indexed by RX queue.
	XSKMapName = "xsks_map"
	// DefaultXSKName is its name in a chain when none is given.
	DefaultXSKName = "xsk"
)

// XSKObject returns the ELF object of the built-in AF_XDP program.
func XSKObject() []byte { return append([]byte(nil), _XskBytes...) }

// XSKProgram describes the built-in AF_XDP program under name (empty:
// DefaultXSKName), with the defaults of NewProgram: priority 50, proceed-on
// pass (a packet no socket takes goes on down the chain).
func XSKProgram(name string) (Program, error) {
	if name == "" {
		name = DefaultXSKName
	}
	return NewProgram(name, XSKObject(), XSKProgramName)
}

// xskMapOf returns the name of the first (by name) XSKMAP among a program's
// maps, or "".
func xskMapOf(cs *ebpf.CollectionSpec) string {
	var names []string
	for name, ms := range cs.Maps {
		if ms.Type == ebpf.XSKMap {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return names[0]
}

// xskMapPath is where the XSKMAP map of program prog is pinned ("" when
// the program has none).
func (p pinDir) xskMapPath(prog, mapName string) string {
	if mapName == "" {
		return ""
	}
	return filepath.Join(p.progMaps(prog), pinName(mapName))
}
