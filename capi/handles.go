package main

import (
	"sync"

	"github.com/netmesh/netmesh/core"
)

// A handle is what C callers hold instead of a pointer: the low 32 bits are a slot
// index plus one (so 0 is never a handle) and the high 32 bits the slot's
// generation, which changes whenever the slot is released. A stale handle
// (shut down, even if its slot was reused), a random number or 0 therefore finds
// nothing and answers MESH_E_INVALID_HANDLE.
type handleTable struct {
	mu    sync.RWMutex
	slots []handleSlot
	free  []uint32 // indexes of released slots that may be reused
}

type handleSlot struct {
	gen uint32    // >= 1 once used; bumped on every release
	bus *core.Bus // nil while the slot is free
}

// handles is the one table of the library.
var handles handleTable

func makeHandle(index, gen uint32) uint64 { return uint64(gen)<<32 | uint64(index+1) }

func splitHandle(h uint64) (index, gen uint32, ok bool) {
	low := uint32(h)
	if low == 0 {
		return 0, 0, false
	}
	return low - 1, uint32(h >> 32), true
}

// add stores bus and returns its new handle.
func (t *handleTable) add(bus *core.Bus) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.slots[i].bus = bus
		return makeHandle(i, t.slots[i].gen)
	}
	t.slots = append(t.slots, handleSlot{gen: 1, bus: bus})
	return makeHandle(uint32(len(t.slots)-1), 1)
}

// get returns the bus of a live handle.
func (t *handleTable) get(h uint64) (*core.Bus, bool) {
	i, gen, ok := splitHandle(h)
	if !ok {
		return nil, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if int(i) >= len(t.slots) {
		return nil, false
	}
	s := t.slots[i]
	if s.gen != gen || s.bus == nil {
		return nil, false
	}
	return s.bus, true
}

// remove invalidates h and returns its bus; only one caller ever gets it, so a
// second shutdown of the same handle finds nothing.
func (t *handleTable) remove(h uint64) (*core.Bus, bool) {
	i, gen, ok := splitHandle(h)
	if !ok {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(i) >= len(t.slots) {
		return nil, false
	}
	s := &t.slots[i]
	if s.gen != gen || s.bus == nil {
		return nil, false
	}
	bus := s.bus
	s.bus = nil
	s.gen++
	if s.gen != 0 { // a slot whose generation wrapped is retired, never reused
		t.free = append(t.free, i)
	}
	return bus, true
}
