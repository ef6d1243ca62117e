package sdk

import (
	"os"
	"time"
)

// parentCheckInterval is how often a plugin checks that the daemon that
// started it is still its parent.
const parentCheckInterval = time.Second

// watchParent calls exit once getppid no longer returns ppid: the daemon
// that started the plugin died (SIGKILL, crash) and the process was
// re-parented. Its programs keep serving traffic from the pins; the next
// daemon starts a fresh instance, so an orphan would only linger.
func watchParent(ppid int, getppid func() int, interval time.Duration, exit func()) {
	for {
		time.Sleep(interval)
		if getppid() != ppid {
			exit()
			return
		}
	}
}

func exitOrphaned() {
	Logger().Warn(ErrOrphaned.Error() + "; exiting")
	os.Exit(1)
}
