package main

import (
	"fmt"
	"os"
)

// currentUser names the CLI's user as a program owner, "user:UID", as the
// daemon names the callers of its socket.
func currentUser() string {
	return fmt.Sprintf("user:%d", os.Getuid())
}
