package dispatcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// Actions of the dispatcher on a slot's verdict (SlotExplanation.Action).
const (
	ActionContinue = "continue" // the verdict is in the slot's proceed-on set
	ActionShadow   = "shadow"   // a shadow slot: counted, then continue
	ActionDenied   = "denied"   // not an allowed verdict: XDP_ABORTED
	ActionInvalid  = "invalid"  // not a verdict at all: XDP_ABORTED
	ActionDecides  = "decides"  // the verdict is the chain's
)

// DecidedByFallthrough is who decided a packet that every program let
// through (Explanation.DecidedBy).
const DecidedByFallthrough = "(fall-through)"

// SlotExplanation is one slot's part in an Explanation.
type SlotExplanation struct {
	Slot int    `json:"slot"`
	Name string `json:"name"`
	// Verdict is what the program returned; Action what the dispatcher
	// did with it.
	Verdict string `json:"verdict"`
	Action  string `json:"action"`
}

// Explanation is how the chain decides one packet.
type Explanation struct {
	Verdict   string            `json:"verdict"`
	DecidedBy string            `json:"decided_by"` // a program's name, or "(fall-through)"
	Slots     []SlotExplanation `json:"slots"`
}

// Explain runs one Ethernet frame through the chain as it runs now: each
// program in slot order, loaded on its own with its live maps and run with
// BPF_PROG_TEST_RUN on the frame as the programs before it left it, with
// the dispatcher's rules (proceed-on, allowed, shadow, invalid) applied
// to each verdict. The dispatcher's counters are not touched; the
// programs' own maps are the live ones, so what a program does to them (a
// counter it increments, a rate limiter's tokens) happens for real.
// Slots after the deciding one are not run.
func (r *Root) Explain(frame []byte) (*Explanation, error) {
	out := &Explanation{Slots: []SlotExplanation{}}
	pkt := append([]byte(nil), frame...)
	for i, ps := range r.st.Programs {
		ret, data, err := r.runAlone(ps, pkt)
		if err != nil {
			return nil, &ProgramError{Program: ps.Name, Err: err}
		}
		pkt = data
		v := Verdict(ret)
		se := SlotExplanation{Slot: i, Name: ps.Name, Verdict: v.String()}
		switch {
		case !v.Valid():
			se.Verdict, se.Action, v = fmt.Sprintf("%d", ret), ActionInvalid, Aborted
		case ps.Allowed != 0 && !ps.Allowed.Has(v):
			se.Action, v = ActionDenied, Aborted
		}
		switch {
		case ps.Shadow:
			se.Action = ActionShadow
		case ps.ProceedOn.Has(v) && se.Action == "":
			se.Action = ActionContinue
		case ps.ProceedOn.Has(v):
			// invalid or denied, and aborted proceeds: the action says
			// why it became aborted; the chain goes on.
		default:
			if se.Action == "" {
				se.Action = ActionDecides
			}
			out.Slots = append(out.Slots, se)
			out.Verdict, out.DecidedBy = v.String(), ps.Name
			return out, nil
		}
		out.Slots = append(out.Slots, se)
	}
	out.Verdict, out.DecidedBy = r.st.Fallthrough.String(), DecidedByFallthrough
	return out, nil
}

// runAlone loads one program of the chain on its own, with its pinned
// maps, and runs frame through it, returning its verdict and the frame as
// it left it.
func (r *Root) runAlone(ps programState, frame []byte) (uint32, []byte, error) {
	obj, err := r.pins.loadObject(ps.Object)
	if err != nil {
		return 0, nil, err
	}
	cs, spec, err := objectSpec(obj, ps.ProgramName)
	if err != nil {
		return 0, nil, err
	}
	if callsDeviceKfuncs(spec.Instructions) {
		return 0, nil, fmt.Errorf("%w: the program reads XDP hints (bpf_xdp_metadata_* kfuncs), so it runs only bound to its device, and the kernel does not run a device-bound program with BPF_PROG_TEST_RUN", ErrNotSupported)
	}
	maps := map[string]*ebpf.Map{}
	defer func() {
		for _, m := range maps {
			m.Close()
		}
	}()
	for name, ms := range cs.Maps {
		m, err := ebpf.LoadPinnedMap(filepath.Join(r.pins.progMaps(ps.Name), pinName(name)), nil)
		if errors.Is(err, os.ErrNotExist) {
			// Not pinned (never created): a fresh one, as the program alone
			// would have.
			m, err = ebpf.NewMap(loaderMapSpec(ms))
		}
		if err != nil {
			return 0, nil, fmt.Errorf("map %q: %w", name, err)
		}
		maps[name] = m
	}
	insns := append(spec.Instructions[:0:0], spec.Instructions...)
	if err := associateMaps(insns, maps); err != nil {
		return 0, nil, err
	}
	prog, err := ebpf.NewProgram(aloneSpec(insns, spec))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	defer prog.Close()
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256)}
	ret, err := prog.Run(opts)
	if err != nil {
		return 0, nil, fmt.Errorf("test run: %w", err)
	}
	return ret, opts.DataOut, nil
}
