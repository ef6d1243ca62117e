package daemon

import (
	"fmt"

	"github.com/xdpchain/xdpchain/config"
)

// restartOnly lists the [daemon] settings a reload cannot change: where the
// pins and state live, the control socket and its group, the metrics
// listener and the sampled profile are set up once, when the daemon starts.
func restartOnly(old, cur config.Daemon) []string {
	var out []string
	diff := func(key, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s (%q, the file now says %q)", key, a, b))
		}
	}
	diff("bpffs", old.BPFFS, cur.BPFFS)
	diff("state_dir", old.StateDir, cur.StateDir)
	diff("socket", old.Socket, cur.Socket)
	diff("socket_group", old.SocketGroup, cur.SocketGroup)
	diff("metrics", old.Metrics, cur.Metrics)
	if old.ProfileSample != cur.ProfileSample {
		out = append(out, fmt.Sprintf("profile_sample (%d, the file now says %d)", old.ProfileSample, cur.ProfileSample))
	}
	return out
}
