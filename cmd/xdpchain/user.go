package main

import (
	"fmt"
	"os"
	"os/user"
)

// currentUser names the CLI's user as a program owner: "user:NAME".
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return "user:" + u.Username
	}
	return fmt.Sprintf("user:%d", os.Getuid())
}
