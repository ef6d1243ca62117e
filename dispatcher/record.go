package dispatcher

// programRecord is a chain entry as state.json stores it: a type of its own,
// apart from the public Program, so that a change to Program (a field
// renamed, added or given a JSON form) changes no file on disk. Its JSON
// names are those every release wrote (TestStateOfV030Loads reads a state
// of v0.3.0). recordOf and program are the one conversion between the two.
type programRecord struct {
	Name         string     `json:"name"`
	Priority     int        `json:"priority"`
	ProceedOn    VerdictSet `json:"proceed_on"`
	Allowed      VerdictSet `json:"allowed,omitempty"`
	Shadow       bool       `json:"shadow,omitempty"`
	Frags        bool       `json:"frags,omitempty"`
	Owner        string     `json:"owner,omitempty"`
	Version      string     `json:"version,omitempty"`
	Unprivileged bool       `json:"unprivileged,omitempty"`
	ProgramName  string     `json:"program"`
}

// recordOf is the record of p (its object is stored apart, by hash).
func recordOf(p Program) programRecord {
	return programRecord{
		Name: p.Name, Priority: p.Priority, ProceedOn: p.ProceedOn, Allowed: p.Allowed, Shadow: p.Shadow,
		Frags: p.Frags, Owner: p.Owner, Version: p.Version, Unprivileged: p.Unprivileged, ProgramName: p.ProgramName,
	}
}

// program is the chain entry the record stands for, without its object
// (which the caller reads from the state's objects, by hash).
func (r programRecord) program() Program {
	return Program{
		Name: r.Name, Priority: r.Priority, ProceedOn: r.ProceedOn, Allowed: r.Allowed, Shadow: r.Shadow,
		Frags: r.Frags, Owner: r.Owner, Version: r.Version, Unprivileged: r.Unprivileged, ProgramName: r.ProgramName,
	}
}
