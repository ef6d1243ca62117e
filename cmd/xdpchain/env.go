package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xdpchain/xdpchain/client"
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
	// verifierLog is set by load --verifier-log: a rejected program's
	// verifier log follows the error.
	verifierLog bool

	// config is --config; flags are the global flags (which were given).
	config string
	flags  *pflag.FlagSet
	// env reads the environment (os.Getenv when nil); defaultConfig
	// replaces /etc/xdpchain/config.toml when set (tests).
	env           func(string) string
	defaultConfig string
	// defaultPaths replace the default bpffs, state dir and socket when
	// set (tests: never the machine's /sys/fs/bpf or a daemon running
	// there).
	defaultPaths paths
	// located: socket, bpffs and state are final; source is the config
	// file they came from; remote: a daemon answered the last connect.
	located bool
	source  configFile
	remote  bool
	// guard is the binary whose observe-guard verb guards a local
	// observation (this program; none in-process in tests).
	guard string
}

// paths locate a daemon and its pins.
type paths struct{ bpffs, state, socket string }

func newEnv() *cliEnv {
	self, _ := os.Executable()
	return &cliEnv{stdout: os.Stdout, stderr: os.Stderr, guard: self}
}

// connect returns the client every verb changes chains through — the
// daemon's when one serves --socket (and --no-daemon is not given), else
// the pins' — with a context for one request, and done to release both.
func (e *cliEnv) connect() (_ client.Client, _ context.Context, done func(), _ error) {
	if err := e.locate(); err != nil {
		return nil, nil, nil, err
	}
	c, err := client.Connect(client.Options{BPFFS: e.bpffs, StateDir: e.state, Socket: e.socket, NoDaemon: e.noDaemon, Actor: currentUser()})
	if err != nil {
		return nil, nil, nil, err
	}
	e.remote = c.Remote()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	return c, ctx, func() { cancel(); c.Close() }, nil
}

// requestTimeout bounds one request to the daemon (a load verifies
// programs, which may take long on slow machines).
const requestTimeout = 2 * time.Minute

// commands is the CLI's verb table: every command, registered here and
// nowhere else. Nouns (status, top, explain, features, plan, bench, version)
// never change a chain; verbs (load, unload, detach, adopt, run, reload) do;
// the observers (dump, profile, trace, and observe-guard behind them) swap
// in a generation with probes and back, the chain itself unchanged.
var commands = []func(*cliEnv) *cobra.Command{
	newLoadCmd,
	newUnloadCmd,
	newDetachCmd,
	newAdoptCmd,
	newStatusCmd,
	newTopCmd,
	newExplainCmd,
	newDumpCmd,
	newProfileCmd,
	newTraceCmd,
	newGuardCmd,
	newFeaturesCmd,
	newPlanCmd,
	newRunCmd,
	newReloadCmd,
	newBenchCmd,
	newVersionCmd,
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
	registerPackaging(root, env) // --version, the hidden man verb
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	def := env.defaultPaths
	if def == (paths{}) {
		def = paths{bpffs: dispatcher.DefaultBPFFS, state: dispatcher.DefaultStateDir, socket: config.DefaultSocket}
	}
	root.PersistentFlags().StringVar(&env.bpffs, "bpffs", def.bpffs, "bpffs mount for pins (else the config's [daemon] bpffs)")
	root.PersistentFlags().StringVar(&env.state, "state-dir", def.state, "directory for chain state and program objects (else the config's [daemon] state_dir)")
	root.PersistentFlags().StringVar(&env.socket, "socket", def.socket, "the daemon's control socket, every verb goes through the daemon when one runs (else the config's [daemon] socket)")
	root.PersistentFlags().BoolVar(&env.noDaemon, "no-daemon", false, "work on the pins directly even when a daemon runs")
	registerPaths(root.PersistentFlags(), env)
	for _, c := range commands {
		root.AddCommand(c(env))
	}
	return root
}

// run executes the command line and returns the exit status. Errors are
// printed as one line; a verifier log follows when one was asked for.
func run(args []string, env *cliEnv) int {
	cmd := newRootCmd(env)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	msg := oneLine(err.Error()) + hint(err)
	if errors.Is(err, dispatcher.ErrNotAttached) && env.located {
		msg += " (" + env.looked() + ")"
	}
	var de *dispatcher.DamagedError
	if errors.As(err, &de) && env.located {
		msg += "; `" + env.detachCommand(de.NetNS, de.Interface) + "` removes it, then load again"
	}
	var sp *dispatcher.SeveralProgramsError
	if errors.As(err, &sp) {
		msg += " with --prog (one of " + strings.Join(sp.Programs, ", ") + ")"
	}
	fmt.Fprintf(env.stderr, "xdpchain: %s\n", msg)
	var pe *dispatcher.ProgramError
	if errors.As(err, &pe) && pe.VerifierLog != "" && env.verifierLog {
		fmt.Fprintf(env.stderr, "verifier log of %q:\n%s\n", pe.Program, pe.VerifierLog)
	}
	return 1
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (…)"
	}
	return s
}

// expectedRevision is the --expected-revision flag of a verb.
type expectedRevision struct{ n uint64 }

func (r *expectedRevision) register(cmd *cobra.Command) {
	// --expect-revision is accepted as a spelling of the same flag.
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "expect-revision" {
			name = "expected-revision"
		}
		return pflag.NormalizedName(name)
	})
	cmd.Flags().Uint64Var(&r.n, "expected-revision", 0, "fail, changing nothing, unless the chain is at this revision (see status)")
}

// get returns the revision asked for, or nil.
func (r *expectedRevision) get(cmd *cobra.Command) *uint64 {
	if !cmd.Flags().Changed("expected-revision") {
		return nil
	}
	n := r.n
	return &n
}
