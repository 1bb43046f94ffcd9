package core

import (
	"runtime"
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
			req := []byte(`{"start":"earliest"}`)
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
