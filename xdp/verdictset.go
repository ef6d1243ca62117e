package xdp

import "strings"

// VerdictSet is a set of verdicts, one bit per verdict (bit n is verdict n),
// the encoding the dispatcher, the plugin protocol and libxdp's
// chain_call_actions use. dispatcher.VerdictSet is this type.
type VerdictSet uint32

// AllVerdicts contains every valid verdict.
const AllVerdicts VerdictSet = 1<<(Redirect+1) - 1

// NewVerdictSet returns the set of the given verdicts.
func NewVerdictSet(vs ...Verdict) VerdictSet {
	var s VerdictSet
	for _, v := range vs {
		s |= 1 << v
	}
	return s
}

// ParseVerdictSet parses a comma-separated list of verdict names. The empty
// string is the empty set. Errors wrap ErrUnknownVerdict.
func ParseVerdictSet(s string) (VerdictSet, error) {
	var set VerdictSet
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := ParseVerdict(f)
		if err != nil {
			return 0, err
		}
		set |= 1 << v
	}
	return set, nil
}

// Has reports whether v is in the set.
func (s VerdictSet) Has(v Verdict) bool { return v.Valid() && s&(1<<v) != 0 }

// Verdicts lists the set's verdicts in ascending order.
func (s VerdictSet) Verdicts() []Verdict {
	var out []Verdict
	for v := Aborted; v <= Redirect; v++ {
		if s.Has(v) {
			out = append(out, v)
		}
	}
	return out
}

// Strings lists the names of the set's verdicts in ascending order. It never
// returns nil, so an empty set marshals as [] in JSON.
func (s VerdictSet) Strings() []string {
	out := []string{}
	for _, v := range s.Verdicts() {
		out = append(out, v.String())
	}
	return out
}

// String returns the set as "pass,drop" (ascending verdict order).
func (s VerdictSet) String() string { return strings.Join(s.Strings(), ",") }
