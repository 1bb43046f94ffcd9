package core

import (
	"runtime"
	"testing"
	"time"
)

// Opening and closing embedded buses many times leaves no servers behind for
// long: the server tracks JetStream API reply routes on timers that hold it,
// and netmesh bounds them to its request timeout.
func TestInitShutdownCyclesReleaseMemory(t *testing.T) {
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	dir := t.TempDir()
	cfg := storeConfig(dir, `,"memory":true`, `,"request_timeout_ms":1000`)
	before := heap()
	const cycles = 100
	for i := 0; i < cycles; i++ {
		// Open, not openBus: a cleanup holding every bus would hold every server.
		b, err := Open([]byte(cfg))
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Publish([]byte(`{"events":[1]}`))
		if cerr := b.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
	}
	grown := heap() - min(before, heap())
	t.Logf("heap grew by %d MB over %d cycles", grown>>20, cycles)
	// Each cycle's server holds about a quarter of a megabyte while its
	// routes are tracked; they must be gone a few seconds after the last.
	deadline := time.Now().Add(6 * time.Second)
	for {
		now := heap()
		if now < before+16<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap still %d MB above where it started, 6s after %d init/shutdown cycles", (now-before)>>20, cycles)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
