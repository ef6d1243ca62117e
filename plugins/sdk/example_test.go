package sdk_test

import (
	"context"
	"fmt"

	"github.com/xdpchain/xdpchain/plugins/blocklist"
	"github.com/xdpchain/xdpchain/plugins/sdk"
)

// portFilter is a plugin: its BPF object would normally be go:embed'ded
// (here the blocklist example's object stands in for it).
type portFilter struct {
	ports *sdk.Map
}

// settings is what the [plugin.settings] table holds for this plugin.
type settings struct {
	Ports []uint16 `json:"ports"`
}

func (p *portFilter) Describe() sdk.Description {
	return sdk.Description{
		Name:        "portfilter",
		Version:     "1.0.0",
		Object:      blocklist.Object(),
		ProgramName: blocklist.ProgramName,
		Priority:    30,
		ProceedOn:   []sdk.Verdict{sdk.Pass},
		Allowed:     []sdk.Verdict{sdk.Drop, sdk.Pass},
	}
}

func (p *portFilter) Configure(ctx context.Context, s sdk.Settings, maps *sdk.Maps, host *sdk.Host) error {
	var cfg settings
	if err := s.Decode(&cfg); err != nil {
		return err
	}
	m, err := maps.Map("ports")
	if err != nil {
		return err
	}
	p.ports = m
	for _, port := range cfg.Ports {
		if err := m.Put(port, uint8(1)); err != nil {
			return err
		}
	}
	return nil
}

func (p *portFilter) Health(context.Context) error { return nil }

// A plugin implements sdk.Plugin; its main is one sdk.Serve call:
//
//	func main() { sdk.Serve(&portFilter{}) }
//
// The daemon then describes it, puts its program into the chain and
// configures it with its settings and maps.
func Example() {
	var p sdk.Plugin = &portFilter{}
	d := p.Describe()
	fmt.Println(d.Name, d.Version, d.ProgramName, d.Priority, d.ProceedOn, d.Allowed)

	var cfg settings
	if err := sdk.SettingsFromJSON([]byte(`{"ports": [53, 123]}`)).Decode(&cfg); err != nil {
		fmt.Println(err)
	}
	fmt.Println(cfg.Ports)

	// A typo in the config is an error, not a silently ignored key.
	err := sdk.SettingsFromJSON([]byte(`{"prots": [53]}`)).Decode(&cfg)
	fmt.Println(err)
	// Output:
	// portfilter 1.0.0 xdp_blocklist 30 [pass] [drop pass]
	// [53 123]
	// decoding settings: json: unknown field "prots"
}
