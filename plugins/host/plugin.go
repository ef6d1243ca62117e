package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/internal/contract"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Plugin is a running plugin process.
type Plugin struct {
	opts   Options
	client *plugin.Client // nil for in-process tests
	rpc    plugin.ClientProtocol
	pc     *contract.Client
	logs   *pluginLogs
	stderr *tailWriter // logs.tail

	exited   chan struct{}
	stop     chan struct{}
	stopOnce sync.Once

	requests chan *Request

	mu          sync.Mutex
	desc        Description
	settings    []byte
	generation  uint64
	maps        *mapTable
	brokerID    uint32
	lastHealth  HealthStatus
	configuring sync.Mutex // serializes Configure
}

// HealthStatus is the result of the last background health check.
type HealthStatus struct {
	// Time of the check; zero before the first.
	Time time.Time
	// Err is nil when the plugin was healthy.
	Err error
	// Failures counts consecutive failed checks.
	Failures int
}

// Start starts the plugin binary, completes the handshake and asks the
// plugin to describe itself. The handshake and Describe each must finish
// within Options.StartTimeout; ctx bounds Describe too (go-plugin's
// handshake cannot be interrupted). Errors wrap ErrInvalidOptions, ErrChecksum,
// ErrHandshake, ErrStartTimeout, ErrExited or ErrDescribe.
func Start(ctx context.Context, opts Options) (_ *Plugin, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cmd, err := opts.command()
	if err != nil {
		return nil, err
	}
	var secure *plugin.SecureConfig
	if opts.SHA256 != "" {
		want, _ := hex.DecodeString(opts.SHA256)
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}
	logs := newPluginLogs(opts.logger())
	cmd.Env = append(cmd.Env, contract.EnvLogLevel+"="+logs.minLevel())
	stderr, syncStderr, syncStdout := logs.output("stderr"), logs.output("stderr"), logs.output("stdout")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     contract.Handshake,
		VersionedPlugins:    contract.VersionedPlugins(&contract.GRPCPlugin{}),
		Cmd:                 cmd,
		SecureConfig:        secure,
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:            true,
		Managed:             true,
		StartTimeout:        opts.startTimeout(),
		GRPCBrokerMultiplex: true,
		Stderr:              stderr,
		SyncStderr:          syncStderr,
		SyncStdout:          syncStdout,
		Logger:              logs.hclog(filepath.Base(cmd.Path)),
	})
	defer func() {
		if err != nil {
			client.Kill()
		}
	}()
	rpc, err := client.Client()
	if err != nil {
		// Kill waits for the process and for its stderr to be copied, so
		// the error can quote what the plugin said before it died.
		client.Kill()
		stderr.Flush()
		return nil, classifyStartError(&opts, cmd.Path, logs.tail, err)
	}
	p, err := newPlugin(opts, client, rpc, logs)
	if err != nil {
		return nil, err
	}
	go p.watchExit()
	if err := p.describe(ctx); err != nil {
		p.Kill()
		return nil, err
	}
	p.startHealthLoop()
	return p, nil
}

// classifyStartError turns go-plugin's start errors into ours.
func classifyStartError(opts *Options, path string, stderr *tailWriter, err error) error {
	msg := err.Error()
	withStderr := func() string {
		if s := stderr.String(); s != "" {
			return "; plugin stderr: " + s
		}
		return ""
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		got := "unreadable"
		if b, rerr := os.ReadFile(path); rerr == nil {
			sum := sha256.Sum256(b)
			got = hex.EncodeToString(sum[:])
		}
		return fmt.Errorf("starting plugin %s: %w: %s has sha256 %s, config wants %s", opts.Name, ErrChecksum, path, got, strings.ToLower(opts.SHA256))
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("starting plugin %s: %w (%s): no handshake from %s%s", opts.Name, ErrStartTimeout, opts.startTimeout(), path, withStderr())
	case strings.Contains(msg, "plugin exited before we could connect"),
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("starting plugin %s: %w: %w before the handshake (not an xdpchain plugin, or a wrong magic cookie?)%s",
			opts.Name, ErrHandshake, ErrExited, withStderr())
	case strings.Contains(msg, "ncompatible API version"),
		strings.Contains(msg, "ncompatible core API version"),
		strings.Contains(msg, "Unrecognized remote plugin message"),
		strings.Contains(msg, "unsupported plugin protocol"),
		strings.Contains(msg, "gRPC broker multiplexing"):
		return fmt.Errorf("starting plugin %s: %w: %s%s", opts.Name, ErrHandshake, firstLine(msg), withStderr())
	}
	return fmt.Errorf("starting plugin %s: %w%s", opts.Name, err, withStderr())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// newPlugin wraps a connected go-plugin client. client may be nil (in-process
// tests).
func newPlugin(opts Options, client *plugin.Client, rpc plugin.ClientProtocol, logs *pluginLogs) (*Plugin, error) {
	raw, err := rpc.Dispense(contract.PluginName)
	if err != nil {
		return nil, fmt.Errorf("starting plugin %s: %w: dispensing: %w", opts.Name, ErrHandshake, err)
	}
	pc, ok := raw.(*contract.Client)
	if !ok {
		return nil, fmt.Errorf("starting plugin %s: %w: unexpected client %T", opts.Name, ErrHandshake, raw)
	}
	settings, _ := settingsJSON(opts.Settings)
	if logs == nil {
		logs = newPluginLogs(opts.logger())
	}
	return &Plugin{
		opts:     opts,
		client:   client,
		rpc:      rpc,
		pc:       pc,
		logs:     logs,
		stderr:   logs.tail,
		exited:   make(chan struct{}),
		stop:     make(chan struct{}),
		requests: make(chan *Request),
		settings: settings,
		maps:     newMapTable(),
	}, nil
}

func (p *Plugin) describe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.startTimeout())
	defer cancel()
	d, err := p.pc.Plugin.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return p.rpcError("describing", ErrDescribe, ctx, err)
	}
	desc, err := descriptionFromProto(d)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.opts.Name, err)
	}
	p.mu.Lock()
	p.desc = desc
	p.mu.Unlock()
	return nil
}

// rpcError explains a failed call: the process exited, the deadline
// passed, or the plugin returned an error (wrapped with kind).
func (p *Plugin) rpcError(what string, kind error, ctx context.Context, err error) error {
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: %s: %w%s", p.opts.Name, what, ErrExited, p.stderrSuffix())
	default:
	}
	if p.client != nil && p.client.Exited() {
		return fmt.Errorf("plugin %s: %s: %w%s", p.opts.Name, what, ErrExited, p.stderrSuffix())
	}
	if ctx.Err() != nil && what == "describing" {
		return fmt.Errorf("plugin %s: %s: %w: %w", p.opts.Name, what, ErrStartTimeout, ctx.Err())
	}
	// kind says what was being done ("configuring plugin"): what would
	// only repeat it.
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("plugin %s: %w: %s", p.opts.Name, kind, st.Message())
	}
	return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, kind, err)
}

func (p *Plugin) stderrSuffix() string {
	if s := p.stderr.String(); s != "" {
		return "; plugin stderr: " + s
	}
	return ""
}

// watchExit closes p.exited when the process exits, and kills it when
// p.stop is closed.
func (p *Plugin) watchExit() {
	if p.client == nil {
		<-p.stop
	} else {
		t := time.NewTicker(50 * time.Millisecond)
		for !p.client.Exited() {
			select {
			case <-t.C:
			case <-p.stop:
				p.client.Kill()
			}
		}
		t.Stop()
	}
	p.stopOnce.Do(func() { close(p.stop) })
	p.maps.closeAll()
	p.logs.flush()
	close(p.exited)
}

// Name is the plugin's name from Options.
func (p *Plugin) Name() string { return p.opts.Name }

// Description returns what the plugin said about itself (updated when the
// daemon accepts a replace request).
func (p *Plugin) Description() Description {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desc
}

// Program returns the plugin's chain entry: the description's object,
// program name and defaults, Name from Options, Owner "plugin:<Name>". The
// daemon overrides Priority, ProceedOn and Allowed from the config.
func (p *Plugin) Program() dispatcher.Program {
	return p.Description().program(p.opts.Name)
}

// Pid returns the plugin process's id, or 0.
func (p *Plugin) Pid() int {
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Exited is closed when the plugin process has exited (crashed, killed, or
// stopped by Kill).
func (p *Plugin) Exited() <-chan struct{} { return p.exited }

// Kill stops the plugin process (gracefully, then forcibly) and waits until
// it has exited. The plugin's program stays in the chain: removing it is the
// daemon's decision.
func (p *Plugin) Kill() {
	p.logs.stopping.Store(true)
	p.stopOnce.Do(func() { close(p.stop) })
	// watchExit calls go-plugin's Kill: one call only, since a second one
	// at the same time finds the connection closing, takes that for a
	// failed graceful stop and sends SIGKILL.
	if p.client == nil && p.rpc != nil {
		p.rpc.Close()
	}
	<-p.exited
}

// Requests delivers the plugin's requests. Each must be answered with
// Reply; the plugin's call waits for it (up to Options.RequestTimeout).
func (p *Plugin) Requests() <-chan *Request { return p.requests }

// Settings returns the settings the next Configure sends, as JSON.
func (p *Plugin) Settings() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.settings...)
}

// SetSettings replaces the settings the next Configure sends.
func (p *Plugin) SetSettings(settings map[string]any) error {
	b, err := settingsJSON(settings)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.opts.Name, err)
	}
	p.mu.Lock()
	p.settings = b
	p.mu.Unlock()
	return nil
}

// Configure sends the plugin its settings and its maps: map name (as in the
// plugin's object) to pin path, as dispatcher's Root.ProgramMaps returns
// them, for a plugin on one interface. A nil maps keeps the maps of the
// previous Configure. The host opens the maps itself to serve them over the
// broker. Errors wrap ErrConfigure (the plugin refused, or a map could not
// be opened) or ErrExited.
func (p *Plugin) Configure(ctx context.Context, maps map[string]string) error {
	if maps == nil {
		return p.ConfigureInterfaces(ctx, nil)
	}
	return p.ConfigureInterfaces(ctx, map[string]map[string]string{"": maps})
}

// ConfigureInterfaces is Configure for a plugin on several interfaces: maps
// holds each interface's copy of the plugin's maps (interface name -> map
// name -> pin path). The plugin sees them all (sdk.Maps.Interfaces); writes
// through sdk.Maps.Map reach every copy. A nil maps keeps the previous maps.
func (p *Plugin) ConfigureInterfaces(ctx context.Context, maps map[string]map[string]string) error {
	p.configuring.Lock()
	defer p.configuring.Unlock()
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: configuring: %w%s", p.opts.Name, ErrExited, p.stderrSuffix())
	default:
	}
	if maps != nil {
		if err := p.maps.set(maps); errors.Is(err, ErrExited) {
			return fmt.Errorf("plugin %s: configuring: %w%s", p.opts.Name, ErrExited, p.stderrSuffix())
		} else if err != nil {
			return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, ErrConfigure, err)
		}
	}
	id, err := p.serveHost()
	if err != nil {
		return fmt.Errorf("plugin %s: %w: %w", p.opts.Name, ErrConfigure, err)
	}
	p.mu.Lock()
	p.generation++
	req := &pluginpb.ConfigureRequest{
		SettingsJson: append([]byte(nil), p.settings...),
		Maps:         p.maps.handles(),
		BrokerId:     id,
		Access:       accessProto(p.opts.mapAccess()),
		Generation:   p.generation,
	}
	p.mu.Unlock()
	if _, err := p.pc.Plugin.Configure(ctx, req); err != nil {
		return p.rpcError("configuring", ErrConfigure, ctx, err)
	}
	return nil
}

// ConfigureSettings is SetSettings followed by Configure with the previous
// maps: what the daemon does when a plugin's settings change on SIGHUP.
func (p *Plugin) ConfigureSettings(ctx context.Context, settings map[string]any) error {
	if err := p.SetSettings(settings); err != nil {
		return err
	}
	return p.Configure(ctx, nil)
}

func accessProto(a MapAccess) pluginpb.MapAccess {
	switch a {
	case MapAccessDirect:
		return pluginpb.MapAccess_MAP_ACCESS_DIRECT
	case MapAccessBroker:
		return pluginpb.MapAccess_MAP_ACCESS_BROKER
	}
	return pluginpb.MapAccess_MAP_ACCESS_AUTO
}

// serveHost starts the broker server with the Maps and Host services once.
func (p *Plugin) serveHost() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.brokerID != 0 {
		return p.brokerID, nil
	}
	if p.pc.Broker == nil {
		return 0, nil
	}
	id := p.pc.Broker.NextId()
	// AcceptAndServe registers the broker id before it builds the server:
	// wait for that, so the plugin never dials an id the broker does not
	// know yet (its connection would go to the default listener and hang).
	accepted := make(chan struct{})
	go p.pc.Broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		close(accepted)
		s := grpc.NewServer(opts...)
		pluginpb.RegisterMapsServer(s, &mapsServer{p: p})
		pluginpb.RegisterHostServer(s, &hostServer{p: p})
		return s
	})
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("plugin %s: serving host services on the broker: not accepted", p.opts.Name)
	}
	p.brokerID = id
	return id, nil
}

// Validate asks the plugin whether it would accept settings, without
// applying them: the settings in force and the maps stay as they are. It
// works before the first Configure. Errors: a *SettingsError (ErrSettings)
// with the plugin's reason; ErrNotValidated when the plugin cannot tell
// (then only Configure checks the settings); ErrExited.
func (p *Plugin) Validate(ctx context.Context, settings map[string]any) error {
	b, err := settingsJSON(settings)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.opts.Name, err)
	}
	_, err = p.pc.Plugin.Validate(ctx, &pluginpb.ValidateRequest{SettingsJson: b})
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument:
			return &SettingsError{Plugin: p.opts.Name, Reason: st.Message()}
		case codes.Unimplemented:
			return fmt.Errorf("plugin %s: %w", p.opts.Name, ErrNotValidated)
		}
	}
	if perr := p.rpcError("validating settings", ErrSettings, ctx, err); errors.Is(perr, ErrExited) {
		return perr
	}
	return fmt.Errorf("plugin %s: validating settings: %w", p.opts.Name, err)
}

// Health checks that the process answers (gRPC health) and that the plugin
// reports itself well. Errors wrap ErrUnhealthy or ErrExited.
func (p *Plugin) Health(ctx context.Context) error {
	select {
	case <-p.exited:
		return fmt.Errorf("plugin %s: %w", p.opts.Name, ErrExited)
	default:
	}
	if err := p.rpc.Ping(); err != nil {
		return p.rpcError("health check", ErrUnhealthy, ctx, err)
	}
	if _, err := p.pc.Plugin.Health(ctx, &pluginpb.HealthRequest{}); err != nil {
		return p.rpcError("health check", ErrUnhealthy, ctx, err)
	}
	return nil
}

// LastHealth returns the result of the last background health check
// (Options.HealthInterval).
func (p *Plugin) LastHealth() HealthStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastHealth
}

// startHealthLoop checks the plugin's health every HealthInterval, each
// check bounded by the interval.
func (p *Plugin) startHealthLoop() {
	if p.opts.HealthInterval <= 0 {
		return
	}
	p.runHealthLoop(p.opts.HealthInterval, p.opts.HealthInterval)
}

// runHealthLoop checks the plugin's health every interval until it exits,
// each check bounded by timeout (a check still running when the next is
// due delays it), and records and logs the results.
func (p *Plugin) runHealthLoop(interval, timeout time.Duration) {
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.exited:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := p.Health(ctx)
			cancel()
			p.mu.Lock()
			prev := p.lastHealth.Err
			p.lastHealth.Time, p.lastHealth.Err = time.Now(), err
			if err != nil {
				p.lastHealth.Failures++
			} else {
				p.lastHealth.Failures = 0
			}
			p.mu.Unlock()
			p.logHealthChange(prev, err)
		}
	}()
}

// logHealthChange logs a health check whose result differs from the one
// before: turning unhealthy (or failing for another reason) at warn, well
// again at info. A plugin that exits or is being stopped is not reported
// here: its exit is.
func (p *Plugin) logHealthChange(prev, err error) {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.logs.stopping.Load() || errors.Is(err, ErrExited) {
		return
	}
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		p.logs.log.Warn("plugin unhealthy", "error", healthReason(p.opts.Name, err))
	case err == nil && prev != nil:
		p.logs.log.Info("plugin healthy again", "was", healthReason(p.opts.Name, prev))
	}
}

// healthReason is a health error without the "plugin NAME: " its message
// starts with: the record names the plugin already.
func healthReason(name string, err error) string {
	return strings.TrimPrefix(err.Error(), "plugin "+name+": ")
}

var cleanupOnce sync.Once

// CleanupAll kills every plugin process started by Start that is still
// running, and waits for them. The daemon calls it when it exits; calls
// after the first do nothing.
func CleanupAll() { cleanupOnce.Do(plugin.CleanupClients) }
