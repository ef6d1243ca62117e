package host

import (
	"fmt"

	"github.com/xdpchain/xdpchain/chain"
	"github.com/xdpchain/xdpchain/dispatcher"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// Description is what a plugin said about itself.
type Description struct {
	// Name and Version as the plugin declares them.
	Name    string
	Version string
	// Object is the BPF ELF object; ProgramName the XDP function in it.
	Object      []byte
	ProgramName string
	// Priority is the plugin's default priority (dispatcher.DefaultPriority
	// when it declares none).
	Priority int
	// ProceedOn is the default proceed-on set (dispatcher.DefaultProceedOn
	// when it declares none).
	ProceedOn dispatcher.VerdictSet
	// Allowed is the set of verdicts the program may return; zero means
	// all.
	Allowed dispatcher.VerdictSet
	// Frags is true when the program handles multi-buffer packets.
	Frags bool
	// SecretSettings are the settings keys whose values the host never
	// shows.
	SecretSettings []string
}

func descriptionFromProto(d *pluginpb.Description) (Description, error) {
	out := Description{
		Name:           d.GetName(),
		Version:        d.GetVersion(),
		Object:         d.GetObject(),
		ProgramName:    d.GetProgramName(),
		Priority:       dispatcher.DefaultPriority,
		ProceedOn:      dispatcher.DefaultProceedOn,
		Frags:          d.GetFrags(),
		SecretSettings: d.GetSecretSettings(),
	}
	if d.Priority != nil {
		out.Priority = int(d.GetPriority())
	}
	if d.ProceedOn != nil {
		out.ProceedOn = dispatcher.VerdictSet(d.GetProceedOn())
	}
	if d.Allowed != nil {
		out.Allowed = dispatcher.VerdictSet(d.GetAllowed())
	}
	switch {
	case out.Name == "":
		return Description{}, fmt.Errorf("%w: no name", ErrDescribe)
	case len(out.Object) == 0:
		return Description{}, fmt.Errorf("%w: no BPF object", ErrDescribe)
	case out.ProgramName == "":
		return Description{}, fmt.Errorf("%w: no program name", ErrDescribe)
	case out.ProceedOn&^dispatcher.AllVerdicts != 0, out.Allowed&^dispatcher.AllVerdicts != 0:
		return Description{}, fmt.Errorf("%w: unknown verdict bits", ErrDescribe)
	}
	return out, nil
}

// program turns a description into a chain entry for the plugin called name.
func (d Description) program(name string) dispatcher.Program {
	return dispatcher.Program{
		Name:        name,
		Priority:    d.Priority,
		ProceedOn:   d.ProceedOn,
		Allowed:     d.Allowed,
		Frags:       d.Frags,
		Owner:       chain.PluginOwner(name).String(),
		Version:     d.Version,
		Object:      d.Object,
		ProgramName: d.ProgramName,
	}
}
