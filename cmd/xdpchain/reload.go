package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/xdpchain/xdpchain/api"
	"github.com/xdpchain/xdpchain/client"
)

func newReloadCmd(env *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Ask the daemon to re-read its config file and apply it, and wait for the outcome",
		Long: `reload asks the daemon serving the control socket (--socket, or the socket
of the --config file) to re-read its config file and apply it, as SIGHUP
does, and waits until it has: when reload returns 0 the file's config is in
force (xdpchain status shows it). A config the daemon refuses (it does not
parse or validate, or applying it failed) changes nothing: reload prints
the daemon's reason and exits 1. xdpchain.service runs it as ExecReload=,
so that systemctl reload waits for the reload and fails when it is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A file that does not parse still names the daemon by the
			// socket flag (or the default): its refusal is the answer.
			locErr := env.locate()
			c, err := client.Dial(env.socket)
			if err != nil {
				if locErr != nil {
					return locErr
				}
				if errors.Is(err, api.ErrNotRunning) {
					return fmt.Errorf("nothing to reload: no daemon serves %s", env.socket)
				}
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			res, err := c.Reload(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "reloaded %s: %d interfaces, %d plugins, %d programs; chains in line\n",
				res.Config, res.Interfaces, res.Plugins, res.Programs)
			if len(res.RestartOnly) > 0 {
				fmt.Fprintf(env.stderr, "warning: these [daemon] settings take effect only when the daemon restarts; the running values stay: %s\n",
					strings.Join(res.RestartOnly, "; "))
			}
			return nil
		},
	}
}
