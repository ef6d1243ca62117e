package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// SwapTime is how long one Root.Update takes to build a changed generation
// of a chain of Programs programs and swap it in, by one mechanism.
type SwapTime struct {
	Mechanism Kind `json:"mechanism"`
	// Program is the test program the chain is made of; each Update
	// replaces the chain's first program by the other test program.
	Program  string `json:"program"`
	Programs int    `json:"programs"`
	// Skipped gives the reason the mechanism was not timed.
	Skipped string `json:"skipped,omitempty"`
	// Samples are the Update calls' wall-clock times in ms, in order.
	Samples []float64 `json:"samples_ms,omitempty"`
	// Median, Min and Max of the samples, in ms.
	Median float64 `json:"median_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
}

// swapProgram is the test program the swap timing's chains are made of:
// udp, the realistic one, when it is measured.
func swapProgram(programs []string) string {
	if slices.Contains(programs, ProgramUDP) {
		return ProgramUDP
	}
	return programs[0]
}

// otherProgram is the test program that replaces program in a changed
// chain.
func otherProgram(program string) string {
	if program == ProgramUDP {
		return ProgramNoop
	}
	return ProgramUDP
}

// timeSwaps attaches a root by mech with a chain of o.SwapPrograms copies
// of program, then times o.Rounds Update calls that each swap in a changed
// chain: the first program's object alternates between program and the
// other test program (a new object, verified alone, then the whole
// generation built and swapped in).
func timeSwaps(ctx context.Context, ns *benchNS, o *Options, mech dispatcher.Mechanism, program string) (_ SwapTime, err error) {
	st := SwapTime{Mechanism: Kind(mech), Program: program, Programs: o.SwapPrograms}
	s := &subject{}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	chain := programChain(program, o.SwapPrograms)
	root, err := attachRoot(ns, o, s, mech, chain, true)
	if err != nil {
		return st, err
	}
	for round := 0; round < o.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		first := program
		if round%2 == 0 {
			first = otherProgram(program)
		}
		chain[0].Object = testprogs.Object(first)
		chain[0].ProgramName = testprogs.Program(first)
		start := time.Now()
		_, err := root.Update(func(sp *dispatcher.Spec) error {
			sp.Programs = chain
			return nil
		})
		d := time.Since(start)
		if err != nil {
			return st, fmt.Errorf("swapping in a changed chain of %d: %w", len(chain), err)
		}
		st.Samples = append(st.Samples, float64(d.Nanoseconds())/1e6)
		progressf(o.Progress, "swap  %d/%d  %s %d %s: %.1f ms", round+1, o.Rounds, mech, len(chain), program, st.Samples[round])
	}
	if n, err := runningPrograms(root); err != nil {
		return st, err
	} else if n != len(chain) {
		return st, fmt.Errorf("after the swaps the dispatcher runs %d programs, want %d", n, len(chain))
	}
	st.Median = Median(st.Samples)
	st.Min = slices.Min(st.Samples)
	st.Max = slices.Max(st.Samples)
	return st, nil
}

func runningPrograms(root *dispatcher.Root) (int, error) {
	st, err := root.Status()
	if err != nil {
		return 0, err
	}
	return len(st.Programs), nil
}
