package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsonQuote is s as a JSON string: the one way tests quote text into JSON.
func jsonQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Test configs. Every bus a test opens has one of these, so all of them have
// log_level off. extra is a comma-led list of further fields (e.g. `,"shards":4`).

// storeConfig is a config for an embedded server on store dir dir; embedded is a
// comma-led list of further embedded fields (e.g. `,"memory":true`).
func storeConfig(dir, embedded, extra string) string {
	return `{"embedded":{"store_dir":` + jsonQuote(dir) + embedded + `},"log_level":"off"` + extra + `}`
}

// memConfig is a config for an embedded server with memory storage on its own
// store dir.
func memConfig(t testing.TB, extra string) string {
	t.Helper()
	return storeConfig(t.TempDir(), `,"memory":true`, extra)
}

// fileConfig is a config for an embedded server with file storage in dir.
func fileConfig(dir, extra string) string {
	return storeConfig(dir, "", extra)
}

// urlConfig is a config for the server (or comma-separated servers) at url.
func urlConfig(url, extra string) string {
	return `{"url":` + jsonQuote(url) + `,"log_level":"off"` + extra + `}`
}

// tryOpen opens a bus where Open may fail: it returns Open's error, and closes a
// bus it opened when the test ends.
func tryOpen(t testing.TB, config string) (*Bus, error) {
	t.Helper()
	b, err := Open([]byte(config))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, nil
}

// openBus opens a bus and closes it when the test ends. A test may Close it
// itself before; the second Close is then ignored.
func openBus(t testing.TB, config string) *Bus {
	t.Helper()
	b, err := tryOpen(t, config)
	if err != nil {
		t.Fatalf("Open(%s): %v", config, err)
	}
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

// decodeStrictErr decodes a response, refusing fields the contract does not name.
func decodeStrictErr(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", clip(data), err)
	}
	if dec.More() {
		return fmt.Errorf("trailing data after response %s", clip(data))
	}
	return nil
}

// decodeStrict is decodeStrictErr failing the test.
func decodeStrict(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := decodeStrictErr(data, v); err != nil {
		t.Fatal(err)
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

// numberedEvents are the events {"n":from} .. {"n":from+n-1}.
func numberedEvents(from, n int) []string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = `{"n":` + strconv.Itoa(from+i) + `}`
	}
	return evs
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

// publishTo puts n events on shard k, the strings "k-from" .. "k-(from+n-1)".
func publishTo(t testing.TB, b *Bus, k, from, n int) {
	t.Helper()
	evs := make([]string, n)
	for i := range evs {
		evs[i] = jsonQuote(fmt.Sprintf("%d-%d", k, from+i))
	}
	publishEvents(t, b, evs, fmt.Sprintf(`,"shard":%d`, k))
}

// pollErr polls once and decodes the response strictly. It returns an error
// rather than failing the test: for goroutines, and for tests that expect one.
// A Poll error is wrapped, so CodeOf still finds its code.
func pollErr(b *Bus, req string) (pollResp, error) {
	var r pollResp
	out, err := b.Poll([]byte(req))
	if err != nil {
		return r, fmt.Errorf("Poll(%s): %w", clip([]byte(req)), err)
	}
	if err := decodeStrictErr(out, &r); err != nil {
		return r, fmt.Errorf("Poll(%s): %w", clip([]byte(req)), err)
	}
	if r.NextCursor == "" {
		return r, fmt.Errorf("Poll(%s): empty next_cursor in %s", clip([]byte(req)), clip(out))
	}
	return r, nil
}

// poll is pollErr failing the test.
func poll(t testing.TB, b *Bus, req string) pollResp {
	t.Helper()
	r, err := pollErr(b, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pollReq is a poll request of limit from cursor ("" for none); fields is a
// comma-led list of further fields.
func pollReq(limit int, cursor, fields string) string {
	req := `{"limit":` + strconv.Itoa(limit) + fields
	if cursor != "" {
		req += `,"cursor":` + jsonQuote(cursor)
	}
	return req + "}"
}

// pollAllErr follows the cursor from cursor ("" for none) with polls of limit
// until a poll returns no events and has_more is false. fields is a comma-led
// list of extra request fields. It returns every event and the final cursor, or
// what it read before the first error (which CodeOf classifies).
func pollAllErr(b *Bus, cursor string, limit int, fields string) ([]eventJSON, string, error) {
	var all []eventJSON
	for i := 0; i <= 100000; i++ {
		r, err := pollErr(b, pollReq(limit, cursor, fields))
		if err != nil {
			return all, cursor, err
		}
		all = append(all, r.Events...)
		cursor = r.NextCursor
		if len(r.Events) == 0 && !r.HasMore {
			return all, cursor, nil
		}
	}
	return all, cursor, fmt.Errorf("pollAll: no end after 100001 polls (%d events)", len(all))
}

// pollAll is pollAllErr failing the test: the one way tests read everything.
func pollAll(t testing.TB, b *Bus, cursor string, limit int, fields string) ([]eventJSON, string) {
	t.Helper()
	all, cursor, err := pollAllErr(b, cursor, limit, fields)
	if err != nil {
		t.Fatal(err)
	}
	return all, cursor
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

// checkRoundTrip fails unless got holds every event of want exactly once, byte
// for byte, on its routed shard, in publish order per shard.
func checkRoundTrip(t testing.TB, got []eventJSON, want []string, shards int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("polled %d events, published %d", len(got), len(want))
	}
	index := make(map[string]int, len(want))
	for i, ev := range want {
		index[ev] = i
	}
	seen := make([]bool, len(want))
	lastIdx := map[int]int{}
	for _, e := range got {
		i, ok := index[string(e.Raw)]
		if !ok {
			t.Fatalf("polled an event that was not published (or not byte-identical): %s", e.Raw)
		}
		if seen[i] {
			t.Fatalf("event %d polled twice: %s", i, e.Raw)
		}
		seen[i] = true
		if wantShard := routeShard([]byte(want[i]), shards); e.Shard != wantShard {
			t.Fatalf("event %d on shard %d, routed to %d", i, e.Shard, wantShard)
		}
		if last, ok := lastIdx[e.Shard]; ok && i <= last {
			t.Fatalf("shard %d: event %d polled after event %d", e.Shard, i, last)
		}
		lastIdx[e.Shard] = i
	}
	checkShardOrder(t, got)
}

// checkExactlyOnce fails unless got holds each of numberedEvents(0, n) exactly
// once, and nothing else.
func checkExactlyOnce(t testing.TB, got []eventJSON, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range got {
		seen[string(e.Raw)]++
	}
	for _, k := range numberedEvents(0, n) {
		if seen[k] != 1 {
			t.Fatalf("event %s read %d times (read %d events in all)", k, seen[k], len(got))
		}
	}
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
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

// startTestServer runs a nats-server with JetStream in this process, listening
// on a random loopback port, with a user and password.
func startTestServer(t testing.TB) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
		Username:  "alice",
		Password:  "s3cr3t-pw",
	}
	return runServer(t, opts)
}

// rawJSAt is a plain nats.go JetStream client on a connection of its own to url
// (with opts), closed when the test ends. Tests that look at or write the
// streams directly use one of these, never the adapter's connection.
func rawJSAt(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// rawJS is rawJSAt the bus's embedded server, in-process.
func rawJS(t testing.TB, b *Bus) jetstream.JetStream {
	t.Helper()
	return rawJSAt(t, "", nats.InProcessServer(b.js.embedded.srv))
}

// childTest is a command that runs only the test named name of this test
// binary, with env set to value (which tells that test it is the child).
func childTest(name, env, value string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+value)
	return cmd
}

// readsSent counts the read requests of both read connections.
func (a *adapter) readsSent() uint64 {
	n := a.reads.sent.Load()
	if a.reads2 != nil {
		n += a.reads2.sent.Load()
	}
	return n
}
