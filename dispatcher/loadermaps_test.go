package dispatcher_test

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpchain/xdpchain/dispatcher"
	"github.com/xdpchain/xdpchain/internal/mechtest"
	"github.com/xdpchain/xdpchain/internal/testprogs"
)

// TestPinnedMapsFitTheProgramsSpec opens the pinned maps of programs in a
// chain the way the program's own loader would: each one Compatible with
// its MapSpec, and all of them as MapReplacements of the object's
// CollectionSpec (cilium/ebpf sets BPF_F_MMAPABLE on .bss, .data and .rodata
// at load, so maps created without it are refused: "Flags: 128 changed to
// 1152"). The program loaded that way shares the chain's state.
func TestPinnedMapsFitTheProgramsSpec(t *testing.T) {
	mechtest.Require(t, dispatcher.Inline)
	r := newSemanticsRoot(t, dispatcher.Inline)
	add(t, r, program(t, testprogs.Counter, "counter"), program(t, testprogs.DropPort, "dropport"))
	runDispatcher(t, r, udpTo(9))

	for name, object := range map[string]string{"counter": testprogs.Counter, "dropport": testprogs.DropPort} {
		spec, err := testprogs.Spec(object)
		if err != nil {
			t.Fatal(err)
		}
		paths, err := r.ProgramMaps(name)
		if err != nil {
			t.Fatal(err)
		}
		replacements := map[string]*ebpf.Map{}
		for mapName, ms := range spec.Maps {
			path, ok := paths[mapName]
			if !ok {
				t.Errorf("%s: map %s not pinned", name, mapName)
				continue
			}
			m, err := ebpf.LoadPinnedMap(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			replacements[mapName] = m
			// Compatible as the loader checks it, with the flag it adds.
			want := ms.Copy()
			if mapName == ".bss" || mapName == ".data" || mapName == ".rodata" {
				want.Flags |= 1 << 10 // BPF_F_MMAPABLE
			}
			if err := want.Compatible(m); err != nil {
				t.Errorf("%s: pinned %s: %v", name, mapName, err)
			}
		}
		coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: replacements})
		if err != nil {
			t.Fatalf("%s: loading its object with its pinned maps: %v", name, err)
		}
		defer coll.Close()
		if name != "counter" {
			continue
		}
		// The program loaded by its own loader counts into the chain's
		// .bss: one run of it adds one packet.
		before := counterPackets(t, r, name)
		if _, err := coll.Programs[testprogs.Program(object)].Run(&ebpf.RunOptions{Data: udpTo(9)}); err != nil {
			t.Fatal(err)
		}
		if got := counterPackets(t, r, name); got != before+1 {
			t.Errorf("counter run by its own loader: .bss packets %d -> %d, want +1", before, got)
		}
	}
}
