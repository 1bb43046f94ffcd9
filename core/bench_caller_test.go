package core

import (
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
)

// A C caller's goroutine is locked to its thread: these compare a call made from
// a plain goroutine, from a locked one (as through cgo), and from a locked one
// that hands the call to a fresh goroutine and waits once (what capi does).

var callerModes = []string{"goroutine", "locked", "locked+offload"}

func BenchmarkCallerThreadPublish(b *testing.B) {
	for _, mode := range callerModes {
		b.Run(mode, func(b *testing.B) {
			bus := benchOpen(b, benchEmbeddedConfig(b.TempDir(), "lk", 16))
			req := benchPublishRequest(benchEvents(1000, 0))
			runAsCaller(b, mode, func() error { _, err := bus.Publish(req); return err })
			benchReportEvents(b, b.N*1000)
		})
	}
}

func BenchmarkCallerThreadEmptyPoll(b *testing.B) {
	for _, mode := range callerModes {
		b.Run(mode, func(b *testing.B) {
			bus := benchOpen(b, benchEmbeddedConfig(b.TempDir(), "lk", 16))
			req := benchEndOfBus(b, bus, 16)
			runAsCaller(b, mode, func() error { _, err := bus.Poll(req); return err })
			if s := b.Elapsed().Seconds(); s > 0 {
				b.ReportMetric(float64(b.N)/s, "calls/s")
			}
		})
	}
}

func runAsCaller(b *testing.B, mode string, call func() error) {
	errs := make(chan error, 1)
	b.ResetTimer()
	go func() {
		if mode != "goroutine" {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		for i := 0; i < b.N; i++ {
			var err error
			if mode == "locked+offload" {
				c := make(chan error, 1)
				go func() { c <- call() }()
				err = <-c
			} else {
				err = call()
			}
			if err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// benchEndOfBus puts one event on every shard and returns a poll request whose
// cursor is at the end: each such poll asks every shard once and finds nothing.
func benchEndOfBus(b *testing.B, bus *Bus, shards int) []byte {
	for k := 0; k < shards; k++ {
		if _, err := bus.Publish([]byte(`{"events":[0],"shard":` + strconv.Itoa(k) + `}`)); err != nil {
			b.Fatal(err)
		}
	}
	out, err := bus.Poll([]byte(`{"limit":100}`))
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	return []byte(`{"cursor":"` + r.NextCursor + `"}`)
}
