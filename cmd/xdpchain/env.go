package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpchain/xdpchain/config"
	"github.com/xdpchain/xdpchain/dispatcher"
)

// cliEnv is what a command may touch: its output streams and the global
// options. Tests run commands in-process with buffers.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
	bpffs  string
	state  string
	// socket is the daemon's control socket; noDaemon skips it.
	socket   string
	noDaemon bool
}

func newEnv() *cliEnv { return &cliEnv{stdout: os.Stdout, stderr: os.Stderr} }

// options are the dispatcher options common to every verb.
func (e *cliEnv) options(netns string) *dispatcher.Options {
	return &dispatcher.Options{NetNS: netns, BPFFS: e.bpffs, StateDir: e.state}
}

func newRootCmd(env *cliEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "xdpchain",
		Short: "Share an XDP hook between many programs, safely",
		Long: `xdpchain keeps one root dispatcher attached to an interface by a pinned
bpf_link and runs an ordered chain of XDP programs behind it. Every change
builds a new dispatcher generation and swaps it in atomically.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	root.PersistentFlags().StringVar(&env.bpffs, "bpffs", dispatcher.DefaultBPFFS, "bpffs mount for pins")
	root.PersistentFlags().StringVar(&env.state, "state-dir", dispatcher.DefaultStateDir, "directory for chain state and program objects")
	root.PersistentFlags().StringVar(&env.socket, "socket", config.DefaultSocket, "the daemon's control socket: load, unload and status go through the daemon when one runs")
	root.PersistentFlags().BoolVar(&env.noDaemon, "no-daemon", false, "work on the pins directly even when a daemon runs")
	root.AddCommand(
		newLoadCmd(env),
		newUnloadCmd(env),
		newDetachCmd(env),
		newStatusCmd(env),
		newFeaturesCmd(env),
	)
	for _, extra := range extraCommands {
		root.AddCommand(extra(env))
	}
	return root
}

// extraCommands are verbs registered by other files of this package (run).
var extraCommands []func(*cliEnv) *cobra.Command

// run executes the command line and returns the exit status. Errors are
// printed as one line; a verifier log follows when one was asked for.
func run(args []string, env *cliEnv) int {
	cmd := newRootCmd(env)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(env.stderr, "xdpchain: %s\n", oneLine(err.Error()))
	var pe *dispatcher.ProgramError
	if errors.As(err, &pe) && pe.VerifierLog != "" && showVerifierLog {
		fmt.Fprintf(env.stderr, "verifier log of %q:\n%s\n", pe.Program, pe.VerifierLog)
	}
	return 1
}

// showVerifierLog is set by --verifier-log.
var showVerifierLog bool

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (…)"
	}
	return s
}
