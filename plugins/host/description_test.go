package host

import (
	"errors"
	"testing"

	"github.com/xdpchain/xdpchain/dispatcher"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

func TestDescriptionFromProto(t *testing.T) {
	prio, proceed, allowed := int32(-3), uint32(0), uint32(1<<dispatcher.Drop)
	d, err := descriptionFromProto(&pluginpb.Description{Name: "n", Object: []byte{1}, ProgramName: "f", Priority: &prio, ProceedOn: &proceed, Allowed: &allowed})
	if err != nil {
		t.Fatal(err)
	}
	if d.Priority != -3 || d.ProceedOn != 0 || d.Allowed != dispatcher.NewVerdictSet(dispatcher.Drop) {
		t.Errorf("explicit values lost: %+v", d)
	}
	d, err = descriptionFromProto(&pluginpb.Description{Name: "n", Object: []byte{1}, ProgramName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Priority != dispatcher.DefaultPriority || d.ProceedOn != dispatcher.DefaultProceedOn || d.Allowed != 0 {
		t.Errorf("defaults: %+v", d)
	}
	bits := uint32(1 << 9)
	for _, bad := range []*pluginpb.Description{
		{Object: []byte{1}, ProgramName: "f"},
		{Name: "n", ProgramName: "f"},
		{Name: "n", Object: []byte{1}},
		{Name: "n", Object: []byte{1}, ProgramName: "f", Allowed: &bits},
	} {
		if _, err := descriptionFromProto(bad); !errors.Is(err, ErrDescribe) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if p := d.program("edge"); p.Owner != "plugin:edge" || p.Name != "edge" {
		t.Errorf("program %+v", p)
	}
}
