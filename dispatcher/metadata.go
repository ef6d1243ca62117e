package dispatcher

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// RunConfig is libxdp's per-program metadata: the `.xdp_run_config` BTF
// section written by the XDP_RUN_CONFIG(func) macro of xdp/xdp_helpers.h.
//
//	struct {
//		__uint(priority, 10);
//		__uint(XDP_PASS, 1);
//		__uint(XDP_DROP, 1);
//	} XDP_RUN_CONFIG(my_prog);
type RunConfig struct {
	// Priority is nil when the object does not declare one.
	Priority *int
	// ProceedOn is nil when the object declares no verdict members.
	ProceedOn *VerdictSet
}

const runConfigSection = ".xdp_run_config"

// ParseRunConfig reads the run config of the program function fn from an
// object's BTF. An object without the section yields a zero RunConfig.
func ParseRunConfig(spec *btf.Spec, fn string) (RunConfig, error) {
	var rc RunConfig
	if spec == nil {
		return rc, nil
	}
	var sec *btf.Datasec
	if err := spec.TypeByName(runConfigSection, &sec); err != nil {
		if errors.Is(err, btf.ErrNotFound) {
			return rc, nil
		}
		return rc, fmt.Errorf("reading %s: %w", runConfigSection, err)
	}
	for _, vs := range sec.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok || v.Name != "_"+fn {
			continue
		}
		st, ok := btf.UnderlyingType(v.Type).(*btf.Struct)
		if !ok {
			return rc, fmt.Errorf("%s: %s is not a struct", runConfigSection, v.Name)
		}
		var proceed VerdictSet
		haveVerdicts := false
		for _, m := range st.Members {
			val, err := uintMember(m)
			if err != nil {
				return rc, fmt.Errorf("%s: %s.%s: %w", runConfigSection, v.Name, m.Name, err)
			}
			if m.Name == "priority" {
				if val > MaxPriority {
					return rc, fmt.Errorf("%s: %s.priority %d is out of range [%d, %d]", runConfigSection, v.Name, val, MinPriority, MaxPriority)
				}
				p := int(val)
				rc.Priority = &p
				continue
			}
			if !strings.HasPrefix(m.Name, "XDP_") {
				continue // unknown members are ignored, as libxdp does
			}
			verdict, err := ParseVerdict(m.Name)
			if err != nil {
				return rc, fmt.Errorf("%s: %s: %w", runConfigSection, v.Name, err)
			}
			haveVerdicts = true
			if val != 0 {
				proceed |= 1 << verdict
			}
		}
		if haveVerdicts {
			rc.ProceedOn = &proceed
		}
		return rc, nil
	}
	return rc, nil
}

// uintMember decodes libxdp's __uint(name, val): `int (*name)[val]`.
func uintMember(m btf.Member) (uint32, error) {
	ptr, ok := m.Type.(*btf.Pointer)
	if !ok {
		return 0, fmt.Errorf("not an __uint() member")
	}
	arr, ok := ptr.Target.(*btf.Array)
	if !ok {
		return 0, fmt.Errorf("not an __uint() member")
	}
	return arr.Nelems, nil
}
