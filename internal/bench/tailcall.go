package bench

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// TailCallMaxPrograms is the longest tail-call chain the kernel runs to its
// end: at most 33 tail calls per packet (MAX_TAIL_CALL_CNT), so 34
// programs.
const TailCallMaxPrograms = 34

// tailCallLimit is why longer tail-call chains are skipped.
const tailCallLimit = "33-tail-call kernel limit"

// tailCallSkip returns why a tail-call chain of n programs cannot be
// measured, or "".
func tailCallSkip(n int) string {
	if n > TailCallMaxPrograms {
		return fmt.Sprintf("%s (a chain of %d programs needs %d tail calls)", tailCallLimit, n, n-1)
	}
	return ""
}

// tailCallPrograms returns the programs of the tail-call object that make
// a chain of n (1..TailCallMaxPrograms), in chain order: tc00..tc(n-2),
// then tc_last.
func tailCallPrograms(n int) []string {
	names := make([]string, 0, n)
	for i := 0; i < n-1; i++ {
		names = append(names, testprogs.TailCallProgram(i))
	}
	return append(names, testprogs.TailCallLast)
}

// tailCallSubject builds the fastest tail-call chain of n programs one can
// build (Katran-style): ONE object, whose program i tail-calls index i+1
// of its PROG_ARRAY with a literal constant key, loaded once with the n
// programs the chain needs; the array is filled once, before the first
// packet, with program i at index i (the last is tc_last, the body and
// XDP_PASS). A constant key lets the x86 JIT patch each tail call into a
// direct jump (TestTailCallDirect checks the JITed images). The first
// program is attached to a veth of ns and run.
func tailCallSubject(ns *benchNS, program string, n int) (_ *subject, err error) {
	s := &subject{row: Row{Kind: TailCall, Program: program, Programs: n}}
	defer closeOnError(s, &err)
	name := testprogs.TailCallOf(program)
	chain := tailCallPrograms(n)
	coll, err := loadCollection(s, name, func(p string) bool { return slices.Contains(chain, p) })
	if err != nil {
		return nil, err
	}
	arr := coll.Maps[testprogs.TailCallMap]
	for i, p := range chain {
		if err := arr.Put(uint32(i), coll.Programs[p]); err != nil {
			return nil, fmt.Errorf("storing %s of %s at %d: %w", p, name, i, err)
		}
	}
	s.prog = coll.Programs[chain[0]]
	s.links = make([]*ebpf.Program, 0, n)
	for _, p := range chain {
		s.links = append(s.links, coll.Programs[p])
	}
	// A chain cut short (an empty index, the kernel's tail-call limit)
	// returns XDP_ABORTED.
	ret, err := s.prog.Run(&ebpf.RunOptions{Data: udpPacket()})
	if err != nil {
		return nil, fmt.Errorf("running the chain: %w", err)
	}
	if ret != xdpPass {
		return nil, fmt.Errorf("the chain of %d returned %d, want XDP_PASS: it did not run to its end", n, ret)
	}
	if err := attachXDP(ns, s, s.prog); err != nil {
		return nil, err
	}
	return s, nil
}
