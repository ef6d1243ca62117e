package dispatcher

import "time"

// TracedPacket is one packet's way through the chain, as a trace saw it
// live: the programs it passed with their verdicts and who decided, in
// the vocabulary of Explain.
type TracedPacket struct {
	Explanation
	CPU  int       `json:"cpu"`
	Time time.Time `json:"time"`
	// Len is the packet's length as the chain received it; Data its
	// first bytes.
	Len  int    `json:"len"`
	Data []byte `json:"data,omitempty"`
}

// Tracer assembles a trace's events into packets. Records of one packet
// come from one CPU in order: a packet starts with its input record and
// ends with the decision of the program that decided, or of the last one.
type Tracer struct {
	open map[int]*TracedPacket
}

// Add takes the next event and returns the packet it completes, if any.
// A packet whose records the buffer dropped is left out.
func (t *Tracer) Add(e Event) *TracedPacket {
	if t.open == nil {
		t.open = map[int]*TracedPacket{}
	}
	if e.Lost > 0 {
		clear(t.open) // which CPU lost what is not known
	}
	switch e.Kind {
	case EventInput:
		// A packet left open (a program tail called out of the chain)
		// is dropped.
		t.open[e.CPU] = &TracedPacket{
			Explanation: Explanation{Slots: []SlotExplanation{}},
			CPU:         e.CPU, Time: e.Time, Len: e.Len, Data: e.Data,
		}
		return nil
	case EventDecision:
	default:
		return nil
	}
	p := t.open[e.CPU]
	if p == nil {
		return nil
	}
	se := SlotExplanation{Slot: e.Slot, Name: e.Program, Verdict: e.Verdict.String()}
	final := false
	switch {
	case e.Shadow:
		se.Action = ActionShadow
	case e.ProceedOn.Has(e.Verdict):
		se.Action = ActionContinue
	default:
		se.Action, final = ActionDecides, true
	}
	p.Slots = append(p.Slots, se)
	switch {
	case final:
		p.Verdict, p.DecidedBy = e.Verdict.String(), e.Program
	case e.Last:
		p.Verdict, p.DecidedBy = e.Fallthrough.String(), DecidedByFallthrough
	default:
		return nil
	}
	delete(t.open, e.CPU)
	return p
}
