package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/daemon"
)

// viewPIDs turns the plugin PIDs of a daemon's status into this process's
// PID namespace where it can (a daemon in a container reports its own
// numbers): a process of that namespace that this one can see has an ID
// here too. PIDs that cannot be translated keep their namespace, and
// pidText says which.
func viewPIDs(st *api.Status) {
	own := daemon.PIDNamespace()
	for i := range st.Plugins {
		p := &st.Plugins[i]
		if p.PID == 0 || p.PIDNamespace == 0 || p.PIDNamespace == own {
			continue
		}
		if pid, ok := translatePID(p.PID, p.PIDNamespace); ok {
			p.PID, p.PIDNamespace = pid, own
		}
	}
}

// translatePID finds the process whose ID is pid in the PID namespace with
// inode ns, and returns its ID here: the one whose /proc entry is in that
// namespace and whose innermost NSpid is pid.
func translatePID(pid int, ns uint64) (int, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		here, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/pid", &st) != nil || st.Ino != ns {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 && f[len(f)-1] == strconv.Itoa(pid) {
					return here, true
				}
			}
		}
	}
	return 0, false
}

// pidText is how status prints a plugin's PID: as this process sees it,
// or in the daemon's PID namespace when it could not be translated.
func pidText(p *api.PluginStatus) string {
	if p.PIDNamespace != 0 && p.PIDNamespace != daemon.PIDNamespace() {
		return fmt.Sprintf("pid %d in PID namespace %d", p.PID, p.PIDNamespace)
	}
	return fmt.Sprintf("pid %d", p.PID)
}
