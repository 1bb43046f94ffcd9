package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// pollToEnd follows the cursor until has_more is false and returns the events
// read and the last cursor.
func pollToEnd(t *testing.T, b *Bus, cursor string) ([]eventJSON, string) {
	t.Helper()
	var all []eventJSON
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("no end after 1000 polls")
		}
		r := poll(t, b, pollReq(1000, cursor, ""))
		all, cursor = append(all, r.Events...), r.NextCursor
		if !r.HasMore {
			return all, cursor
		}
	}
}

// quietPoll waits out markLag, then polls once, so every shard has proved its end.
func quietPoll(t *testing.T, b *Bus, cursor string) string {
	t.Helper()
	time.Sleep(markLag + 50*time.Millisecond)
	evs, cursor := pollToEnd(t, b, cursor)
	if len(evs) != 0 {
		t.Fatalf("quiet poll read %d events", len(evs))
	}
	return cursor
}

// An idle bus answers polls without asking any shard, however many it has.
func TestIdlePollAsksNoShard(t *testing.T) {
	b := openMem(t, `,"shards":256`)
	for k := 0; k < 256; k += 5 {
		publishTo(t, b, k, 0, 3)
	}
	evs, cursor := pollToEnd(t, b, "")
	if len(evs) != 52*3 {
		t.Fatalf("read %d events", len(evs))
	}
	cursor = quietPoll(t, b, cursor)
	b.js.index.mu.Lock()
	b.js.index.revalid = time.Now() // no periodic revalidation inside the loop, however slow the machine
	b.js.index.mu.Unlock()
	before := b.js.readsSent()
	for i := 0; i < 20; i++ {
		if r := poll(t, b, pollReq(1000, cursor, "")); len(r.Events) != 0 || r.HasMore || r.NextCursor != cursor {
			t.Fatalf("idle poll: %d events, has_more %v", len(r.Events), r.HasMore)
		}
	}
	if sent := b.js.readsSent() - before; sent != 0 {
		t.Fatalf("20 idle polls sent %d read requests", sent)
	}
	// A new event is read from its shard alone.
	publishTo(t, b, 7, 100, 1)
	before = b.js.readsSent()
	r := poll(t, b, pollReq(1000, cursor, ""))
	if len(r.Events) != 1 || r.Events[0].Shard != 7 {
		t.Fatalf("after one publish: %+v", r.Events)
	}
	if sent := b.js.readsSent() - before; sent != 1 {
		t.Fatalf("reading one new event sent %d requests", sent)
	}
}

// A poll sees every event whose publish returned before the poll began, from
// any handle, at once: the marker orders the index behind them.
func TestPollSeesOtherHandlesAtOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := storeConfig(dir, `,"memory":true`, `,"shards":64`)
	pub, sub := openBus(t, cfg), openBus(t, cfg)
	_, cursor := pollToEnd(t, sub, "")
	cursor = quietPoll(t, sub, cursor)
	for i := 0; i < 200; i++ {
		k := rand.IntN(64)
		publishTo(t, pub, k, i, 1)
		r := poll(t, sub, pollReq(1000, cursor, ""))
		if len(r.Events) != 1 || r.Events[0].Shard != k {
			t.Fatalf("publish %d to shard %d, then poll: %+v", i, k, r.Events)
		}
		cursor = r.NextCursor
		if i%50 == 49 {
			cursor = quietPoll(t, sub, cursor) // let the shards go quiet again
		}
	}
}

// Events written by another client straight to a shard subject are seen too,
// from their marks.
func TestPollSeesForeignPublishes(t *testing.T) {
	srv := startTestServer(t)
	url := srv.ClientURL()
	b := openBus(t, urlConfig(url, `,"shards":8,"create_streams":"init","auth":{"user":"alice","password":"s3cr3t-pw"}`))
	_, cursor := pollToEnd(t, b, "")
	cursor = quietPoll(t, b, cursor)
	js := rawJSAt(t, url, nats.UserInfo("alice", "s3cr3t-pw"))
	for i := 0; i < 50; i++ {
		k := i % 8
		rec := appendRecord(nil, []byte(strconv.Itoa(i)), uint64(time.Now().UnixNano()), k)
		if _, err := js.Publish(context.Background(), subjectName("netmesh", k), rec); err != nil {
			t.Fatal(err)
		}
		// Without a tick the server may acknowledge the event before it passes
		// it on, so the poll may be a moment early; the mark must still bring
		// it well before any periodic revalidation.
		deadline := time.Now().Add(revalidateEvery / 5)
		r := poll(t, b, pollReq(1000, cursor, ""))
		for len(r.Events) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			r = poll(t, b, pollReq(1000, cursor, ""))
		}
		if len(r.Events) != 1 || string(r.Events[0].Raw) != strconv.Itoa(i) {
			t.Fatalf("raw publish %d, then polls for %v: %+v", i, revalidateEvery/5, r.Events)
		}
		cursor = r.NextCursor
	}
}

// A user who may not subscribe to the shard subjects still reads everything:
// the index is off and every poll asks every shard.
func TestPollWithoutShardSubscribePermission(t *testing.T) {
	deny := &server.Permissions{Subscribe: &server.SubjectPermission{Deny: []string{"pv.shard.*"}}}
	srv := runServer(t, &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Users: []*server.User{
			{Username: "reader", Password: "r-pw", Permissions: deny},
			{Username: "writer", Password: "w-pw"},
		}})
	cfg := func(user, pw string) string {
		return urlConfig(srv.ClientURL(), fmt.Sprintf(`,"prefix":"pv","shards":4,"create_streams":"init","auth":{"user":%q,"password":%q}`, user, pw))
	}
	pub, sub := openBus(t, cfg("writer", "w-pw")), openBus(t, cfg("reader", "r-pw"))
	publishTo(t, pub, 0, 0, 1)
	_, cursor := pollToEnd(t, sub, "")
	cursor = quietPoll(t, sub, cursor)
	for i := 0; i < 20; i++ {
		publishTo(t, pub, i%4, i+1, 1)
		r := poll(t, sub, pollReq(1000, cursor, ""))
		if len(r.Events) != 1 {
			t.Fatalf("publish %d, then poll without the shard subscription: %+v", i, r.Events)
		}
		cursor = r.NextCursor
	}
	sub.js.index.mu.Lock()
	off := sub.js.index.off
	sub.js.index.mu.Unlock()
	if !off {
		t.Fatal("the index stayed on though the server refused its subscription")
	}
}

// A poll over many shards with events on all of them asks each for a chunk,
// not every shard for a sliver.
func TestManyShardsPollInChunks(t *testing.T) {
	b := openMem(t, `,"shards":256,"create_streams":"init"`)
	for k := 0; k < 256; k++ {
		publishTo(t, b, k, 0, 40)
	}
	// The first poll learns where the shards end; the rest read in chunks.
	r := poll(t, b, pollReq(1000, "", ""))
	got := len(r.Events)
	before := b.js.readsSent()
	evs, _ := pollToEnd(t, b, r.NextCursor)
	got += len(evs)
	if got != 256*40 {
		t.Fatalf("read %d events, want %d", got, 256*40)
	}
	// Each later poll asks the ~28 shards that fill it, and the last one asks
	// every shard to prove its end: an even share would ask all 256 each time.
	if sent := b.js.readsSent() - before; sent > 3*256 {
		t.Fatalf("reading %d events sent %d requests", len(evs), sent)
	}
	// With this many shards the reads go over two connections.
	if b.js.reads2 == nil || b.js.reads.sent.Load() == 0 || b.js.reads2.sent.Load() == 0 {
		t.Fatalf("256 shards: reads not spread over two connections")
	}
	seen := map[string]bool{}
	for _, e := range append(r.Events, evs...) {
		if seen[string(e.Raw)] {
			t.Fatalf("event %s read twice", e.Raw)
		}
		seen[string(e.Raw)] = true
	}
}

// A handle with fewer shards than readSpreadShards reads over its one
// connection.
func TestFewShardsReadOverOneConnection(t *testing.T) {
	b := openMem(t, `,"shards":16`)
	publishEvents(t, b, numberedEvents(0, 100), "")
	if evs, _ := pollToEnd(t, b, ""); len(evs) != 100 || b.js.reads2 != nil {
		t.Fatalf("read %d events; second read connection %v", len(evs), b.js.reads2 != nil)
	}
}

// While shards known to hold events fill the limit, a poll skips the shards
// that looked empty without a marker round trip and says has_more; an event
// published meanwhile on a skipped shard is still read before has_more ends.
func TestPollFilledByKnownShardsSendsNoMarker(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, fileConfig(dir, `,"shards":2`))
	publishTo(t, b, 1, 0, 3000) // before the index subscribes: their ends are known and fresh
	publishTo(t, b, 0, 0, 5)
	r := poll(t, b, pollReq(1000, "", `,"shard":0`))
	if len(r.Events) != 5 || r.HasMore {
		t.Fatalf("shard 0: %d events, has_more %v", len(r.Events), r.HasMore)
	}
	time.Sleep(markLag + 50*time.Millisecond) // shard 0 is quiet once it proves its end again
	if r = poll(t, b, pollReq(1000, r.NextCursor, `,"shard":0`)); len(r.Events) != 0 {
		t.Fatalf("shard 0 again: %d events", len(r.Events))
	}
	markers := func() uint64 {
		b.js.index.mu.Lock()
		defer b.js.index.mu.Unlock()
		return b.js.index.sent
	}
	before := markers()
	r = poll(t, b, pollReq(1000, r.NextCursor, ""))
	if len(r.Events) != 1000 || !r.HasMore || r.Events[0].Shard != 1 {
		t.Fatalf("first poll of both: %d events, has_more %v", len(r.Events), r.HasMore)
	}
	if n := markers() - before; n != 0 {
		t.Fatalf("a poll filled by shard 1's known events sent %d markers", n)
	}
	other := openBus(t, fileConfig(dir, `,"shards":2`))
	publishTo(t, other, 0, 5, 1)
	rest, _ := pollToEnd(t, b, r.NextCursor)
	if len(rest) != 2001 || !slices.ContainsFunc(rest, func(e eventJSON) bool { return string(e.Raw) == `"0-5"` }) {
		t.Fatalf("read %d more events; want shard 1's other 2000 and the new one on shard 0", len(rest))
	}
}
