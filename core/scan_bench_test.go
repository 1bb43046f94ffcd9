package core

import (
	"encoding/json"
	"testing"

	gojson "github.com/goccy/go-json"
)

// The events of a publish request are read in place: validated once, then
// walked as spans, never copied or re-encoded. These benchmarks weigh that
// against decoding the same 1000-event request with encoding/json and with
// goccy/go-json into json.RawMessage spans, which also leave events unparsed.
// The numbers are in BENCHMARKS.md ("Reading a publish request").

type rawEventsRequest struct {
	Events []json.RawMessage `json:"events"`
}

func BenchmarkEventsScan(b *testing.B) {
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	bus := &Bus{cfg: defaultConfig()}
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(req)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := bus.parsePublish(req)
			if err != nil || len(r.events) != benchBatch {
				b.Fatalf("parsePublish: %d events, %v", len(r.events), err)
			}
		}
	})
	decoders := []struct {
		name      string
		unmarshal func([]byte, any) error
	}{
		{"encoding_json", json.Unmarshal},
		{"goccy", gojson.Unmarshal},
	}
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				var r rawEventsRequest
				if err := d.unmarshal(req, &r); err != nil || len(r.Events) != benchBatch {
					b.Fatalf("%s: %d events, %v", d.name, len(r.Events), err)
				}
			}
		})
	}
}

// BenchmarkValidate compares the validators the scanner could use.
func BenchmarkValidate(b *testing.B) {
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"encoding_json", json.Valid}, {"goccy", gojson.Valid}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				if !v.valid(req) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
