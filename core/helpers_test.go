package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// memConfig is a config for an embedded server with memory storage on its own
// store dir; extra is a comma-led list of further fields (e.g. `,"shards":4`).
func memConfig(t testing.TB, extra string) string {
	t.Helper()
	return `{"embedded":{"store_dir":` + jsonQuote(t.TempDir()) + `,"memory":true},"log_level":"off"` + extra + `}`
}

// fileConfig is a config for an embedded server with file storage in dir.
func fileConfig(dir, extra string) string {
	return `{"embedded":{"store_dir":` + jsonQuote(dir) + `},"log_level":"off"` + extra + `}`
}

func jsonQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// openBus opens a bus and closes it when the test ends.
func openBus(t testing.TB, config string) *Bus {
	t.Helper()
	b, err := Open([]byte(config))
	if err != nil {
		t.Fatalf("Open(%s): %v", config, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// openMem opens a bus on a memory-storage embedded server of its own.
func openMem(t testing.TB, extra string) *Bus {
	t.Helper()
	return openBus(t, memConfig(t, extra))
}

type ackJSON struct {
	Shard     int    `json:"shard"`
	Seq       string `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

type pubResp struct {
	Published  int       `json:"published"`
	Duplicates int       `json:"duplicates"`
	Acks       []ackJSON `json:"acks"`
}

type eventJSON struct {
	ID    string          `json:"id"`
	Shard int             `json:"shard"`
	TS    string          `json:"ts"`
	Raw   json.RawMessage `json:"raw"`
}

type pollResp struct {
	Events     []eventJSON `json:"events"`
	NextCursor string      `json:"next_cursor"`
	HasMore    bool        `json:"has_more"`
	Skipped    int         `json:"skipped"`
}

// decodeStrict decodes a response, refusing fields the contract does not name.
func decodeStrict(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", clip(data), err)
	}
	if dec.More() {
		t.Fatalf("trailing data after response %s", clip(data))
	}
}

func publish(t testing.TB, b *Bus, req string) pubResp {
	t.Helper()
	out, err := b.Publish([]byte(req))
	if err != nil {
		t.Fatalf("Publish(%s): %v", clip([]byte(req)), err)
	}
	var r pubResp
	decodeStrict(t, out, &r)
	return r
}

// eventsJSON joins events into a JSON array.
func eventsJSON(events []string) string {
	return "[" + strings.Join(events, ",") + "]"
}

// publishEvents publishes events (raw JSON strings) and checks all were new.
func publishEvents(t testing.TB, b *Bus, events []string, extra string) pubResp {
	t.Helper()
	r := publish(t, b, `{"events":`+eventsJSON(events)+extra+`}`)
	if r.Published != len(events) || r.Duplicates != 0 {
		t.Fatalf("publish %d events: published %d duplicates %d", len(events), r.Published, r.Duplicates)
	}
	return r
}

func poll(t testing.TB, b *Bus, req string) pollResp {
	t.Helper()
	out, err := b.Poll([]byte(req))
	if err != nil {
		t.Fatalf("Poll(%s): %v", req, err)
	}
	var r pollResp
	decodeStrict(t, out, &r)
	if r.NextCursor == "" {
		t.Fatalf("Poll(%s): empty next_cursor in %s", req, clip(out))
	}
	return r
}

// pollAll follows the cursor from cursor ("" for none) with polls of limit until
// a poll returns no events and has_more is false. fields is a comma-led list of
// extra request fields. It returns every event and the final cursor.
func pollAll(t testing.TB, b *Bus, cursor string, limit int, fields string) ([]eventJSON, string) {
	t.Helper()
	var all []eventJSON
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatalf("pollAll: no end after %d polls (%d events)", i, len(all))
		}
		req := `{"limit":` + strconv.Itoa(limit) + fields
		if cursor != "" {
			req += `,"cursor":` + jsonQuote(cursor)
		}
		req += "}"
		r := poll(t, b, req)
		all = append(all, r.Events...)
		cursor = r.NextCursor
		if len(r.Events) == 0 && !r.HasMore {
			return all, cursor
		}
	}
}

// wantCode fails unless err has the code and its message contains every substring.
func wantCode(t testing.TB, err error, code Code, substrs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v error, got success", code)
	}
	if got := CodeOf(err); got != code {
		t.Fatalf("want code %v, got %v: %v", code, got, err)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err.Error(), s)
		}
	}
}

// cursorJSON decodes an opaque cursor to its JSON text.
func cursorJSON(t testing.TB, cursor string) string {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatalf("cursor %q is not standard base64: %v", cursor, err)
	}
	return string(data)
}

// makeCursor encodes a cursor from its JSON text.
func makeCursor(js string) string { return base64.StdEncoding.EncodeToString([]byte(js)) }

func mustUint(t testing.TB, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		t.Fatalf("%q is not a canonical u64 decimal", s)
	}
	return n
}

// checkShardOrder fails unless ids and timestamps increase strictly per shard.
func checkShardOrder(t testing.TB, events []eventJSON) {
	t.Helper()
	lastID := map[int]uint64{}
	lastTS := map[int]uint64{}
	for _, e := range events {
		id, ts := mustUint(t, e.ID), mustUint(t, e.TS)
		if id <= lastID[e.Shard] {
			t.Fatalf("shard %d: id %d after %d", e.Shard, id, lastID[e.Shard])
		}
		if ts <= lastTS[e.Shard] {
			t.Fatalf("shard %d: ts %d after %d", e.Shard, ts, lastTS[e.Shard])
		}
		lastID[e.Shard], lastTS[e.Shard] = id, ts
	}
}

// statsJSON is the shape of Stats.
type statsJSON struct {
	Published  uint64            `json:"published"`
	Duplicates uint64            `json:"duplicates"`
	Polled     uint64            `json:"polled"`
	Skipped    uint64            `json:"skipped"`
	Errors     map[string]uint64 `json:"errors"`
	Shards     int               `json:"shards"`
	Prefix     string            `json:"prefix"`
	Embedded   bool              `json:"embedded"`
	Server     struct {
		URL          string `json:"url"`
		Version      string `json:"version"`
		BatchedReads bool   `json:"batched_reads"`
	} `json:"server"`
	Healthy bool `json:"healthy"`
}

func stats(t testing.TB, b *Bus) statsJSON {
	t.Helper()
	out, err := b.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	var s statsJSON
	decodeStrict(t, out, &s)
	return s
}

// runServer starts an in-process nats-server with opts and stops it at cleanup.
func runServer(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		tb.Fatal("test server did not start")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}
