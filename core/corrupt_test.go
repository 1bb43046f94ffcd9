package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

// storeRaw stores data as it is on shard k's subject and returns its sequence.
func storeRaw(t *testing.T, js jetstream.JetStream, k int, data string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, subjectName("netmesh", k), []byte(data))
	if err != nil {
		t.Fatalf("raw publish %q: %v", data, err)
	}
	return ack.Sequence
}

func wantSeq(t *testing.T, got, want uint64) {
	t.Helper()
	if got != want {
		t.Fatalf("stored at sequence %d, want %d", got, want)
	}
}

func TestUnparseableRecordSkipped(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	js := rawJS(t, b)
	publishEvents(t, b, []string{`"good-1"`}, "") // 1
	wantSeq(t, storeRaw(t, js, 0, "not json at all"), 2)
	publishEvents(t, b, []string{`"good-3"`}, "") // 3
	wantSeq(t, storeRaw(t, js, 0, ""), 4)
	wantSeq(t, storeRaw(t, js, 0, `{"r":1,"t":"5","s":0}`), 5)
	wantSeq(t, storeRaw(t, js, 0, `{"r":1,"t":1,"s":0`), 6)
	publishEvents(t, b, []string{`"good-7"`}, "") // 7

	r := poll(t, b, `{}`)
	if len(r.Events) != 3 || r.Skipped != 4 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"7"}` {
		t.Fatalf("poll over unparseable records: %d events skipped %d has_more %v cursor %s",
			len(r.Events), r.Skipped, r.HasMore, cursorJSON(t, r.NextCursor))
	}
	for i, want := range []struct{ id, raw string }{{"1", `"good-1"`}, {"3", `"good-3"`}, {"7", `"good-7"`}} {
		if r.Events[i].ID != want.id || string(r.Events[i].Raw) != want.raw {
			t.Fatalf("event %d = %+v, want %+v", i, r.Events[i], want)
		}
	}
	// Step by one: the skipped record before an event goes with it.
	r = poll(t, b, `{"limit":1,"cursor":`+jsonQuote(makeCursor(`{"0":"1"}`))+`}`)
	if len(r.Events) != 1 || r.Events[0].ID != "3" || r.Skipped != 1 || !r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"3"}` {
		t.Fatalf("limit 1 after 1: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
	// Unparseable records at the end: skipped, the cursor moves past them.
	wantSeq(t, storeRaw(t, js, 0, "[1,2,3]"), 8)
	wantSeq(t, storeRaw(t, js, 0, `"just a string"`), 9)
	r = poll(t, b, `{"cursor":`+jsonQuote(makeCursor(`{"0":"7"}`))+`}`)
	if len(r.Events) != 0 || r.Skipped != 2 || cursorJSON(t, r.NextCursor) != `{"0":"9"}` {
		t.Fatalf("trailing unparseable: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
	r = poll(t, b, `{"wait_ms":50,"cursor":`+jsonQuote(r.NextCursor)+`}`)
	if len(r.Events) != 0 || r.Skipped != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"9"}` {
		t.Fatalf("after the skipped tail: %+v", r)
	}
	if s := stats(t, b); s.Skipped != 7 || s.Polled != 4 || s.Errors["fatal"] != 0 {
		t.Fatalf("stats: skipped %d polled %d fatal %d, want 7, 4, 0", s.Skipped, s.Polled, s.Errors["fatal"])
	}
}

func TestCorruptRecordEndsPoll(t *testing.T) {
	for _, tc := range []struct{ record, why string }{
		{`{"r":null,"t":1,"s":0}`, "r is null"},
		{`{"t":1,"s":0}`, "r is missing"},
		{`{"r":{},"t":1,"s":5}`, "s is 5"},
		{`{"r":{},"t":1,"s":1}`, "s is 1"},
		{`{"r":{},"t":1}`, "s is missing"},
	} {
		t.Run(tc.record, func(t *testing.T) {
			b := openMem(t, `,"shards":2`)
			js := rawJS(t, b)
			publishEvents(t, b, []string{`"a1"`, `"a2"`}, `,"shard":0`) // 1, 2
			publishEvents(t, b, []string{`"b1"`}, `,"shard":1`)
			wantSeq(t, storeRaw(t, js, 0, tc.record), 3)
			publishEvents(t, b, []string{`"a4"`}, `,"shard":0`) // 4

			// The poll ends with the good prefix.
			r := poll(t, b, `{}`)
			if len(r.Events) != 3 || r.Skipped != 0 || !r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"2","1":"1"}` {
				t.Fatalf("first poll: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
			}
			// The next poll from there is fatal, naming shard and sequence.
			for i := 0; i < 2; i++ {
				_, err := b.Poll([]byte(`{"cursor":` + jsonQuote(r.NextCursor) + `}`))
				wantCode(t, err, CodeFatal, "shard 0", "seq 3", tc.why, "skip_corrupt")
			}
			// Other shards read on.
			r1 := poll(t, b, `{"shard":1,"cursor":`+jsonQuote(r.NextCursor)+`}`)
			if len(r1.Events) != 0 || r1.HasMore {
				t.Fatalf("shard 1 alone: %+v", r1)
			}
			// skip_corrupt passes it and counts it.
			r2 := poll(t, b, `{"skip_corrupt":true,"cursor":`+jsonQuote(r.NextCursor)+`}`)
			if len(r2.Events) != 1 || string(r2.Events[0].Raw) != `"a4"` || r2.Events[0].ID != "4" || r2.Skipped != 1 ||
				r2.HasMore || cursorJSON(t, r2.NextCursor) != `{"0":"4","1":"1"}` {
				t.Fatalf("skip_corrupt: %+v cursor %s", r2, cursorJSON(t, r2.NextCursor))
			}
			// skip_corrupt from the start reads everything good in one poll.
			r3 := poll(t, b, `{"skip_corrupt":true}`)
			if len(r3.Events) != 4 || r3.Skipped != 1 || r3.HasMore {
				t.Fatalf("skip_corrupt from the start: %+v", r3)
			}
			s := stats(t, b)
			if s.Errors["fatal"] != 2 || s.Skipped != 2 || s.Polled != 8 {
				t.Fatalf("stats: fatal %d skipped %d polled %d, want 2, 2, 8", s.Errors["fatal"], s.Skipped, s.Polled)
			}
		})
	}
}

// A corrupt record that is the first thing a poll reaches fails it at once,
// also with limit 1 and with a long wait.
func TestCorruptRecordFirst(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	js := rawJS(t, b)
	publishEvents(t, b, []string{`"x"`}, "")
	wantSeq(t, storeRaw(t, js, 0, `{"r":null,"t":1,"s":0}`), 2)
	c := jsonQuote(makeCursor(`{"0":"1"}`))
	for _, req := range []string{`{"cursor":` + c + `}`, `{"limit":1,"cursor":` + c + `}`, `{"wait_ms":5000,"cursor":` + c + `}`} {
		_, err := b.Poll([]byte(req))
		wantCode(t, err, CodeFatal, "shard 0", "seq 2")
	}
	r := poll(t, b, `{"limit":1,"skip_corrupt":true,"cursor":`+c+`}`)
	if len(r.Events) != 0 || r.Skipped != 1 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"2"}` {
		t.Fatalf("skip_corrupt over a trailing corrupt record: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
}

// The poll response is UTF-8 JSON whatever another writer stored.
func TestInvalidUTF8RecordSkipped(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	js := rawJS(t, b)
	publishEvents(t, b, []string{`"ok"`}, "")
	wantSeq(t, storeRaw(t, js, 0, "{\"r\":\"bad \xff byte\",\"t\":1,\"s\":0}"), 2)
	out, err := b.Poll([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(out) {
		t.Fatalf("poll response is not UTF-8: %q", out)
	}
	var r pollResp
	decodeStrict(t, out, &r)
	if len(r.Events) != 1 || r.Skipped != 1 || cursorJSON(t, r.NextCursor) != `{"0":"2"}` {
		t.Fatalf("poll over a record with invalid UTF-8: %s", out)
	}
}

func TestNetMeshRecordFormat(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	js := rawJS(t, b)
	publishEvents(t, b, []string{`"first"`}, `,"shard":0`) // creates the stream
	wantSeq(t, storeRaw(t, js, 0, `{"r":{"token":"x"},"t":9999,"s":0}`), 2)
	wantSeq(t, storeRaw(t, js, 0, `{"s":0,"t":12,"r":[1, 2],"extra":"ignored"}`), 3)
	wantSeq(t, storeRaw(t, js, 0, `{ "r" : "spaced" , "t" : 0 , "s" : 0 }`), 4)
	r := poll(t, b, `{"cursor":`+jsonQuote(makeCursor(`{"0":"1"}`))+`}`)
	want := []eventJSON{
		{ID: "2", Shard: 0, TS: "9999", Raw: []byte(`{"token":"x"}`)},
		{ID: "3", Shard: 0, TS: "12", Raw: []byte(`[1, 2]`)},
		{ID: "4", Shard: 0, TS: "0", Raw: []byte(`"spaced"`)},
	}
	if len(r.Events) != len(want) || r.Skipped != 0 {
		t.Fatalf("hand-written records: %+v", r)
	}
	for i, w := range want {
		e := r.Events[i]
		if e.ID != w.ID || e.Shard != w.Shard || e.TS != w.TS || string(e.Raw) != string(w.Raw) {
			t.Fatalf("record %d read as %+v (raw %s), want %+v (raw %s)", i, e, e.Raw, w, w.Raw)
		}
	}
}

// What the bus stores is net-mesh's record, with net-mesh's message ids.
func TestStoredRecordAndMsgID(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	js := rawJS(t, b)
	publishEvents(t, b, []string{`{"a": 1}`, `2`, `"three"`}, `,"shard":1`)
	publishEvents(t, b, []string{`[4]`, `{"five":5}`}, `,"shard":1`)
	publishEvents(t, b, []string{`"b0"`, `"b1"`}, `,"shard":1,"batch_id":"bb"`)
	got, _ := pollAll(t, b, "", 100, `,"shard":1`)
	if len(got) != 7 {
		t.Fatalf("polled %d events, want 7", len(got))
	}
	nonce := strconv.FormatUint(b.js.pub.nonce, 16)
	wantIDs := []string{nonce + ":1:0:0", nonce + ":1:0:1", nonce + ":1:0:2", nonce + ":1:3:0", nonce + ":1:3:1", "bb:0", "bb:1"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "netmesh_shard_1")
	if err != nil {
		t.Fatal(err)
	}
	info := stream.CachedInfo()
	if !info.Config.AllowDirect || info.Config.Discard != jetstream.DiscardOld || info.Config.Duplicates != time.Hour ||
		len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != "netmesh.shard.1" || info.Config.Storage != jetstream.MemoryStorage {
		t.Fatalf("stream config %+v", info.Config)
	}
	for i, e := range got {
		m, err := stream.GetMsg(ctx, mustUint(t, e.ID))
		if err != nil {
			t.Fatal(err)
		}
		wantRec := `{"r":` + string(e.Raw) + `,"t":` + e.TS + `,"s":1}`
		if string(m.Data) != wantRec {
			t.Fatalf("stored record %s, want %s", m.Data, wantRec)
		}
		if id := m.Header.Get("Nats-Msg-Id"); id != wantIDs[i] {
			t.Fatalf("event %d Nats-Msg-Id %q, want %q", i, id, wantIDs[i])
		}
	}
	// Timestamps are nanoseconds since the epoch, close to now.
	ts := mustUint(t, got[0].TS)
	if d := time.Since(time.Unix(0, int64(ts))); d < 0 || d > time.Hour {
		t.Fatalf("ts %d is %v from now", ts, d)
	}
	if !strings.HasPrefix(fmt.Sprint(ts), "1") {
		t.Fatalf("ts %d", ts)
	}
}
