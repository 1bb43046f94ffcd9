package main

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/netmesh/netmesh/core"
)

// The table only stores and compares pointers, so fake buses stand in for real ones.
func fakeBus() *core.Bus { return new(core.Bus) }

func TestHandleZeroAndRandomAreInvalid(t *testing.T) {
	var tab handleTable
	h := tab.add(fakeBus())
	if h == 0 {
		t.Fatal("handle 0 was issued")
	}
	for _, bad := range []uint64{0, h + 1, h ^ 1<<32, h ^ 1<<63, 1<<32 | 2, ^uint64(0), rand.Uint64() | 1<<62} {
		if _, ok := tab.get(bad); ok {
			t.Errorf("handle %#x found", bad)
		}
		if _, ok := tab.remove(bad); ok {
			t.Errorf("handle %#x removed", bad)
		}
	}
	if _, ok := tab.get(h); !ok {
		t.Error("the real handle was lost")
	}
}

func TestHandleRemoveInvalidatesAndReuseChangesGeneration(t *testing.T) {
	var tab handleTable
	b1, b2 := fakeBus(), fakeBus()
	h1 := tab.add(b1)
	if got, ok := tab.remove(h1); !ok || got != b1 {
		t.Fatal("remove did not return the bus")
	}
	if _, ok := tab.remove(h1); ok {
		t.Error("second remove succeeded")
	}
	if _, ok := tab.get(h1); ok {
		t.Error("removed handle still found")
	}
	h2 := tab.add(b2)
	if uint32(h2) != uint32(h1) {
		t.Errorf("slot not reused: %#x then %#x", h1, h2)
	}
	if h2 == h1 {
		t.Fatal("reused slot kept its generation")
	}
	if got, ok := tab.get(h2); !ok || got != b2 {
		t.Error("new handle not found")
	}
	if _, ok := tab.get(h1); ok {
		t.Error("stale handle finds the new bus")
	}
}

func TestHandleGenerationWrapRetiresSlot(t *testing.T) {
	var tab handleTable
	tab.add(fakeBus())
	tab.slots[0].gen = ^uint32(0)
	h := makeHandle(0, ^uint32(0))
	if _, ok := tab.remove(h); !ok {
		t.Fatal("remove failed")
	}
	if len(tab.free) != 0 {
		t.Error("a slot whose generation wrapped went back on the free list")
	}
	if h2 := tab.add(fakeBus()); uint32(h2) == uint32(h) {
		t.Error("retired slot reused")
	}
}

// Many goroutines add, look up and remove at once: each handle is removed by
// exactly one of the goroutines racing to remove it (run with -race).
func TestHandleConcurrent(t *testing.T) {
	var tab handleTable
	var wg sync.WaitGroup
	var mu sync.Mutex
	removed := map[uint64]int{}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				b := fakeBus()
				h := tab.add(b)
				if got, ok := tab.get(h); !ok || got != b {
					t.Error("lost a handle")
					return
				}
				var inner sync.WaitGroup
				for r := 0; r < 3; r++ {
					inner.Add(1)
					go func() {
						defer inner.Done()
						if _, ok := tab.remove(h); ok {
							mu.Lock()
							removed[h]++
							mu.Unlock()
						}
					}()
				}
				inner.Wait()
			}
		}()
	}
	wg.Wait()
	if len(removed) != 8*2000 {
		t.Errorf("%d distinct handles removed, want %d", len(removed), 8*2000)
	}
	for h, n := range removed {
		if n != 1 {
			t.Errorf("handle %#x removed %d times", h, n)
		}
	}
}
