package host

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/plugins/internal/contract"
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

var cleanupOnce sync.Once

// CleanupAll kills every plugin process started by Start that is still
// running, and waits for them. The daemon calls it when it exits; calls
// after the first do nothing.
func CleanupAll() { cleanupOnce.Do(plugin.CleanupClients) }
