package bench

import (
	"fmt"

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

// tailCallSubject builds an L3AF/Katran-style tail-call chain of n copies
// of the test program: the tail-call object loaded n times, copy i with the
// .rodata next_key i+1 and stored at index i of one shared PROG_ARRAY, the
// last copy its program tailcall_last (no tail call). A copy that passes
// tail-calls the next with a key the verifier sees as a constant (a frozen
// .rodata value), which the x86 JIT turns into a direct jump. The first
// copy is attached to a veth of ns and run.
func tailCallSubject(ns *benchNS, program string, n int) (_ *subject, err error) {
	s := &subject{row: Row{Kind: TailCall, Program: program, Programs: n}}
	defer closeOnError(s, &err)
	name := testprogs.TailCallOf(program)
	cs, err := testprogs.Spec(name)
	if err != nil {
		return nil, err
	}
	chain, err := ebpf.NewMap(cs.Maps[testprogs.TailCallMap])
	if err != nil {
		return nil, fmt.Errorf("creating %s's %s: %w", name, testprogs.TailCallMap, err)
	}
	s.closers = append(s.closers, chain)
	for i := 0; i < n; i++ {
		c := cs.Copy()
		if err := c.Variables[testprogs.TailCallNextKey].Set(uint32(i + 1)); err != nil {
			return nil, fmt.Errorf("setting %s's %s: %w", name, testprogs.TailCallNextKey, err)
		}
		// Load the one program this copy runs.
		progName := testprogs.Program(name)
		if i == n-1 {
			progName = testprogs.TailCallLast
		}
		for p := range c.Programs {
			if p != progName {
				delete(c.Programs, p)
			}
		}
		coll, err := ebpf.NewCollectionWithOptions(c, ebpf.CollectionOptions{
			MapReplacements: map[string]*ebpf.Map{testprogs.TailCallMap: chain},
		})
		if err != nil {
			return nil, fmt.Errorf("loading copy %d of %s: %w", i, name, err)
		}
		s.closers = append(s.closers, closerFunc(func() error { coll.Close(); return nil }))
		prog := coll.Programs[progName]
		if err := chain.Put(uint32(i), prog); err != nil {
			return nil, fmt.Errorf("storing copy %d of %s: %w", i, name, err)
		}
		if i == 0 {
			s.prog = prog
		}
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
