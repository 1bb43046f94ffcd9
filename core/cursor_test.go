package core

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestCursorAbsentNullEmpty(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishTo(t, b, 0, 0, 4)
	publishTo(t, b, 1, 0, 3)
	var first []byte
	for _, req := range []string{`{}`, ``, `{"cursor":null}`, `{"cursor":""}`, `{"cursor":"","start":"earliest"}`} {
		out, err := b.Poll([]byte(req))
		if err != nil {
			t.Fatalf("Poll(%s): %v", req, err)
		}
		if first == nil {
			first = out
		} else if string(out) != string(first) {
			t.Fatalf("Poll(%s) = %s\nPoll({}) = %s", req, out, first)
		}
	}
	r := poll(t, b, `{}`)
	if len(r.Events) != 7 || r.HasMore || r.Skipped != 0 {
		t.Fatalf("poll without cursor: %+v", r)
	}
	// Grouped by shard, in sequence order.
	want := []string{`"0-0"`, `"0-1"`, `"0-2"`, `"0-3"`, `"1-0"`, `"1-1"`, `"1-2"`}
	for i, e := range r.Events {
		if string(e.Raw) != want[i] {
			t.Fatalf("event %d = %s, want %s", i, e.Raw, want[i])
		}
	}
	if c := cursorJSON(t, r.NextCursor); c != `{"0":"4","1":"3"}` {
		t.Fatalf("next_cursor decodes to %s, want {\"0\":\"4\",\"1\":\"3\"}", c)
	}
	if r.NextCursor != base64.StdEncoding.EncodeToString([]byte(`{"0":"4","1":"3"}`)) {
		t.Fatalf("next_cursor %q is not standard base64 of the canonical JSON", r.NextCursor)
	}
}

func TestCursorExactJSON(t *testing.T) {
	b := openMem(t, `,"shards":12`)
	publishTo(t, b, 3, 0, 2)
	publishTo(t, b, 11, 0, 5)
	publishTo(t, b, 10, 0, 1)
	r := poll(t, b, `{}`)
	want := `{"0":"0","1":"0","2":"0","3":"2","4":"0","5":"0","6":"0","7":"0","8":"0","9":"0","10":"1","11":"5"}`
	if c := cursorJSON(t, r.NextCursor); c != want || len(r.Events) != 8 {
		t.Fatalf("cursor %s (%d events), want %s", c, len(r.Events), want)
	}
	// A poll of one shard names only that shard, and keeps what the cursor holds.
	r1 := poll(t, b, `{"shard":11}`)
	if c := cursorJSON(t, r1.NextCursor); c != `{"11":"5"}` || len(r1.Events) != 5 {
		t.Fatalf("shard 11 alone: cursor %s, %d events", c, len(r1.Events))
	}
	r2 := poll(t, b, `{"shard":3,"cursor":`+jsonQuote(makeCursor(`{"11":"4","0":"7"}`))+`}`)
	if c := cursorJSON(t, r2.NextCursor); c != `{"0":"7","3":"2","11":"4"}` || len(r2.Events) != 2 {
		t.Fatalf("shard 3 with a cursor naming others: cursor %s, %d events", c, len(r2.Events))
	}
	// A cursor from a poll picks up exactly after it.
	publishTo(t, b, 10, 1, 2)
	r3 := poll(t, b, `{"cursor":`+jsonQuote(r.NextCursor)+`}`)
	if len(r3.Events) != 2 || string(r3.Events[0].Raw) != `"10-1"` || r3.Events[0].ID != "2" || r3.Events[1].ID != "3" {
		t.Fatalf("poll after the cursor: %+v", r3.Events)
	}
}

func TestCursorParkedAtU64Max(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishTo(t, b, 0, 0, 3)
	publishTo(t, b, 1, 0, 3)
	parked := makeCursor(`{"0":"18446744073709551615"}`)
	r := poll(t, b, `{"cursor":`+jsonQuote(parked)+`}`)
	if len(r.Events) != 3 || r.HasMore {
		t.Fatalf("parked shard 0: %+v", r)
	}
	for _, e := range r.Events {
		if e.Shard != 1 {
			t.Fatalf("parked shard returned %+v", e)
		}
	}
	if c := cursorJSON(t, r.NextCursor); c != `{"0":"18446744073709551615","1":"3"}` {
		t.Fatalf("cursor %s", c)
	}
	r = poll(t, b, `{"shard":0,"wait_ms":50,"cursor":`+jsonQuote(parked)+`}`)
	if len(r.Events) != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"18446744073709551615"}` {
		t.Fatalf("parked shard polled alone: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
	// One below the maximum reads from the maximum: nothing there, position kept.
	near := makeCursor(`{"0":"18446744073709551614","1":"18446744073709551615"}`)
	r = poll(t, b, `{"cursor":`+jsonQuote(near)+`}`)
	if len(r.Events) != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"18446744073709551614","1":"18446744073709551615"}` {
		t.Fatalf("near the maximum: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
}

func TestCursorBeyondEnd(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	publishTo(t, b, 0, 0, 3)
	c := makeCursor(`{"0":"100"}`)
	r := poll(t, b, `{"cursor":`+jsonQuote(c)+`}`)
	if len(r.Events) != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"100"}` {
		t.Fatalf("beyond the end: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
	// At the end exactly: empty, no more.
	r = poll(t, b, `{"cursor":`+jsonQuote(makeCursor(`{"0":"3"}`))+`}`)
	if len(r.Events) != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"3"}` {
		t.Fatalf("at the end: %+v", r)
	}
	// A shard never written is empty at any position.
	b2 := openMem(t, `,"shards":2`)
	r = poll(t, b2, `{"cursor":`+jsonQuote(makeCursor(`{"1":"5"}`))+`}`)
	if len(r.Events) != 0 || r.HasMore || cursorJSON(t, r.NextCursor) != `{"0":"0","1":"5"}` {
		t.Fatalf("never-written shards: %+v cursor %s", r, cursorJSON(t, r.NextCursor))
	}
}

func TestCursorInvalid(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishTo(t, b, 0, 0, 2)
	raw := func(js string) string { return makeCursor(js) }
	for _, tc := range []struct{ name, cursor string }{
		{"key 01", raw(`{"01":"1"}`)},
		{"key +1", raw(`{"+1":"1"}`)},
		{"key space 1", raw(`{" 1":"1"}`)},
		{"key 1 space", raw(`{"1 ":"1"}`)},
		{"key 1.0", raw(`{"1.0":"1"}`)},
		{"key -1", raw(`{"-1":"1"}`)},
		{"key empty", raw(`{"":"1"}`)},
		{"key 1e0", raw(`{"1e0":"1"}`)},
		{"key 0x1", raw(`{"0x1":"1"}`)},
		{"key out of range", raw(`{"2":"1"}`)},
		{"key huge", raw(`{"18446744073709551616":"1"}`)},
		{"seq overflow", raw(`{"0":"18446744073709551616"}`)},
		{"seq number", raw(`{"0":5}`)},
		{"seq negative", raw(`{"0":"-1"}`)},
		{"seq leading zero", raw(`{"0":"05"}`)},
		{"seq plus", raw(`{"0":"+5"}`)},
		{"seq empty", raw(`{"0":""}`)},
		{"seq float", raw(`{"0":"1.0"}`)},
		{"seq null", raw(`{"0":null}`)},
		{"seq space", raw(`{"0":" 5"}`)},
		{"duplicate key", raw(`{"0":"1","0":"2"}`)},
		{"array", raw(`["0","1"]`)},
		{"null json", raw(`null`)},
		{"string json", raw(`"x"`)},
		{"non-JSON", raw(`hello world`)},
		{"truncated JSON", raw(`{"0":"1"`)},
		{"empty decoded", raw(` `)},
		{"invalid UTF-8", raw("{\"0\":\"1\xff\"}")},
		{"garbage base64", "!!!not base64!!!"},
		{"bad length", "abc"},
		{"no padding", strings.TrimRight(raw(`{"0":"10"}`), "=")},
		{"url alphabet", "-_-_"},
	} {
		_, err := b.Poll([]byte(`{"cursor":` + jsonQuote(tc.cursor) + `}`))
		if err == nil {
			t.Errorf("cursor %s (%q): accepted", tc.name, tc.cursor)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), "cursor") {
			t.Errorf("cursor %s: %v (code %v), want invalid_argument naming the cursor", tc.name, err, CodeOf(err))
		}
	}
	for _, req := range []string{`{"cursor":5}`, `{"cursor":{"0":"1"}}`, `{"cursor":true}`} {
		_, err := b.Poll([]byte(req))
		wantCode(t, err, CodeInvalidArgument, "cursor")
	}
	// Valid corner cases: an empty object, and keys out of order.
	for _, c := range []string{raw(`{}`), raw(`{"1":"0","0":"0"}`), raw(` { "0" : "0" } `)} {
		r := poll(t, b, `{"cursor":`+jsonQuote(c)+`}`)
		if len(r.Events) != 2 {
			t.Fatalf("cursor %s: %d events, want 2", cursorJSON(t, c), len(r.Events))
		}
	}
}

func TestPollLimit(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishTo(t, b, 0, 0, 20)
	publishTo(t, b, 1, 0, 10)
	for _, tc := range []struct {
		limit string
		want  int
	}{{"1", 1}, {"2", 2}, {"29", 29}, {"30", 30}, {"10000", 30}} {
		r := poll(t, b, `{"limit":`+tc.limit+`}`)
		if len(r.Events) != tc.want || r.HasMore != (tc.want < 30) {
			t.Fatalf("limit %s: %d events has_more %v, want %d", tc.limit, len(r.Events), r.HasMore, tc.want)
		}
	}
	r := poll(t, b, `{}`) // default 100
	if len(r.Events) != 30 {
		t.Fatalf("default limit: %d events", len(r.Events))
	}
	for _, v := range []string{"0", "10001", "-1", "1.5", "1e30", "1e2", `"100"`, "null", "true", "-0.0", "99999999999999999999"} {
		_, err := b.Poll([]byte(`{"limit":` + v + `}`))
		wantCode(t, err, CodeInvalidArgument, "limit", "1..10000")
	}
	// 10000 over many shards gets them all.
	b2 := openMem(t, `,"shards":16`)
	evs := make([]string, 12000)
	for i := range evs {
		evs[i] = strconv.Itoa(i)
	}
	publishEvents(t, b2, evs, "")
	r = poll(t, b2, `{"limit":10000}`)
	if len(r.Events) != 10000 || !r.HasMore {
		t.Fatalf("limit 10000 of 12000: %d events has_more %v", len(r.Events), r.HasMore)
	}
	rest, _ := pollAll(t, b2, r.NextCursor, 10000, "")
	if len(rest) != 2000 {
		t.Fatalf("rest: %d events, want 2000", len(rest))
	}
	checkRoundTrip(t, append(r.Events, rest...), evs, 16)
}

func TestPollRequestInvalid(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	for _, tc := range []struct{ req, mention string }{
		{`{"shard":4}`, "0..3"},
		{`{"shard":-1}`, "0..3"},
		{`{"shard":"1"}`, "shard"},
		{`{"start":"newest"}`, "start"},
		{`{"start":5}`, "start"},
		{`{"wait_ms":-1}`, "0..300000"},
		{`{"wait_ms":300001}`, "0..300000"},
		{`{"wait_ms":1.5}`, "wait_ms"},
		{`{"timeout_ms":0}`, "1..3600000"},
		{`{"skip_corrupt":"yes"}`, "skip_corrupt"},
		{`{"skip_corrupt":null}`, "skip_corrupt"},
		{`{"limt":5}`, "unknown field"},
		{`{"bogus":null}`, "unknown field"},
		{`{"limit":5,"limit":6}`, "twice"},
		{`[]`, "object"},
		{`{"limit":5`, "JSON"},
		{"{\"start\":\"latest\xff\"}", "UTF-8"},
	} {
		_, err := b.Poll([]byte(tc.req))
		if err == nil {
			t.Errorf("Poll(%q): accepted", tc.req)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Poll(%q): %v (code %v), want invalid_argument mentioning %q", tc.req, err, CodeOf(err), tc.mention)
		}
	}
	for _, req := range []string{`{"shard":null,"start":null,"wait_ms":null,"timeout_ms":null,"cursor":null}`,
		`{"shard":3,"start":"latest","wait_ms":0,"timeout_ms":3600000,"skip_corrupt":false}`} {
		if _, err := b.Poll([]byte(req)); err != nil {
			t.Errorf("Poll(%s): %v", req, err)
		}
	}
}

func TestPollFairness(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	for k := 0; k < 4; k++ {
		publishTo(t, b, k, 0, 100)
	}
	cursor := ""
	var all []eventJSON
	read := map[int]int{}
	for i := 0; ; i++ {
		if i > 400 {
			t.Fatal("no end after 400 polls of 2")
		}
		r := poll(t, b, pollReq(2, cursor, ""))
		if len(r.Events) > 2 {
			t.Fatalf("limit 2 returned %d events", len(r.Events))
		}
		if len(r.Events) < 2 && len(all)+len(r.Events) < 400 {
			t.Fatalf("poll %d returned %d events with %d left", i, len(r.Events), 400-len(all))
		}
		for _, e := range r.Events {
			read[e.Shard]++
		}
		if i == 3 && len(read) != 4 {
			t.Fatalf("after 4 polls of limit 2 only shards %v were read", read)
		}
		all = append(all, r.Events...)
		cursor = r.NextCursor
		if len(r.Events) == 0 && !r.HasMore {
			break
		}
	}
	if len(all) != 400 {
		t.Fatalf("read %d events, want 400", len(all))
	}
	checkShardOrder(t, all)
	for k := 0; k < 4; k++ {
		if read[k] != 100 {
			t.Fatalf("shard %d: %d events read", k, read[k])
		}
	}
}

// With limit below the shard count, every shard still progresses: over any
// window of as many polls as shards, each shard with events is read.
func TestPollLimitBelowShardCount(t *testing.T) {
	const shards = 8
	b := openMem(t, fmt.Sprintf(`,"shards":%d`, shards))
	for k := 0; k < shards; k++ {
		publishTo(t, b, k, 0, 6)
	}
	cursor := ""
	lastRead := make([]int, shards)
	total := 0
	for i := 0; total < shards*6; i++ {
		if i > 1000 {
			t.Fatalf("no progress: %d events after 1000 polls", total)
		}
		r := poll(t, b, pollReq(3, cursor, ""))
		if len(r.Events) != 3 && total+len(r.Events) != shards*6 {
			t.Fatalf("poll %d: %d events", i, len(r.Events))
		}
		for _, e := range r.Events {
			lastRead[e.Shard] = i
		}
		total += len(r.Events)
		cursor = r.NextCursor
		if total < shards*3 { // every shard still has events
			for k := 0; k < shards; k++ {
				if i-lastRead[k] >= shards {
					t.Fatalf("shard %d not read in polls %d..%d", k, lastRead[k]+1, i)
				}
			}
		}
	}
	if c := cursorJSON(t, cursor); c != `{"0":"6","1":"6","2":"6","3":"6","4":"6","5":"6","6":"6","7":"6"}` {
		t.Fatalf("final cursor %s", c)
	}
	r := poll(t, b, `{"cursor":`+jsonQuote(cursor)+`}`)
	if len(r.Events) != 0 || r.HasMore {
		t.Fatalf("after reading all: %+v", r)
	}
}

// docs/reference.md: successive polls of one cursor rotate where they start, so
// no shard starves, even when several consumers poll one bus.
// Two consumers, each with its own cursor, alternating polls on one bus: each
// consumer's successive polls must still rotate over the shards.
func TestPollFairnessInterleavedConsumers(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishTo(t, b, 0, 0, 20)
	publishTo(t, b, 1, 0, 20)
	cursors := []string{"", ""}
	read := []map[int]int{{}, {}}
	for i := 0; i < 8; i++ {
		for c := range cursors {
			r := poll(t, b, pollReq(1, cursors[c], ""))
			if len(r.Events) != 1 {
				t.Fatalf("consumer %d poll %d: %d events", c, i, len(r.Events))
			}
			read[c][r.Events[0].Shard]++
			cursors[c] = r.NextCursor
		}
	}
	for c := range read {
		if read[c][0] == 0 || read[c][1] == 0 {
			t.Errorf("consumer %d read shards %v in 8 polls of limit 1: a shard starved", c, read[c])
		}
	}
}

func TestHasMore(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	if r := poll(t, b, `{}`); r.HasMore || len(r.Events) != 0 {
		t.Fatalf("empty bus: %+v", r)
	}
	publishTo(t, b, 1, 0, 5)
	for _, tc := range []struct {
		req     string
		n       int
		hasMore bool
	}{
		{`{"limit":5}`, 5, false},
		{`{"limit":6}`, 5, false},
		{`{"limit":4}`, 4, true},
		{`{"limit":1}`, 1, true},
		{`{"shard":1,"limit":5}`, 5, false},
		{`{"shard":1,"limit":4}`, 4, true},
		{`{"shard":0}`, 0, false},
		{`{"shard":2,"limit":1}`, 0, false},
	} {
		r := poll(t, b, tc.req)
		if len(r.Events) != tc.n || r.HasMore != tc.hasMore {
			t.Fatalf("%s: %d events has_more %v, want %d and %v", tc.req, len(r.Events), r.HasMore, tc.n, tc.hasMore)
		}
	}
	// Several shards: more on any polled shard is has_more.
	publishTo(t, b, 3, 0, 3)
	r := poll(t, b, `{"limit":8}`)
	if len(r.Events) != 8 || r.HasMore {
		t.Fatalf("limit 8 of 8: %d events has_more %v", len(r.Events), r.HasMore)
	}
	r = poll(t, b, `{"limit":7}`)
	if len(r.Events) != 7 || !r.HasMore {
		t.Fatalf("limit 7 of 8: %d events has_more %v", len(r.Events), r.HasMore)
	}
	r = poll(t, b, `{"limit":100,"cursor":`+jsonQuote(r.NextCursor)+`}`)
	if len(r.Events) != 1 || r.HasMore {
		t.Fatalf("the last one: %d events has_more %v", len(r.Events), r.HasMore)
	}
	// Events published after a poll make has_more true again only on the next poll.
	publishTo(t, b, 0, 0, 2)
	r = poll(t, b, `{"limit":1,"cursor":`+jsonQuote(r.NextCursor)+`}`)
	if len(r.Events) != 1 || !r.HasMore {
		t.Fatalf("after new events: %d events has_more %v", len(r.Events), r.HasMore)
	}
}

// A duplicate shard key is refused wherever it stands, past the 24th key too.
func TestCursorDuplicateKeyAfterMany(t *testing.T) {
	var js strings.Builder
	js.WriteString("{")
	for k := 0; k < 30; k++ {
		js.WriteString(jsonQuote(strconv.Itoa(k)) + `:"1",`)
	}
	js.WriteString(`"29":"2"}`)
	_, err := decodeCursor(makeCursor(js.String()), 64)
	if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("cursor naming shard 29 twice: %v, want invalid_argument (appears twice)", err)
	}
}

// Escaped keys and positions mean what they spell; a repeated shard is refused
// however it is written.
func TestCursorEscapesAndRepeats(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	c, err := decodeCursor(enc(`{"\u0031":"\u0037"}`), 4)
	if err != nil || !c.set[1] || c.seq[1] != 7 {
		t.Fatalf("escaped cursor: %v %v", c, err)
	}
	if _, err := decodeCursor(enc(`{"1":"2","\u0031":"3"}`), 4); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("repeated shard: %v", err)
	}
}

// The cursor is read in place from the request; a cursor written with JSON
// escapes (as some encoders write "/") reads the same, and a cursor that is
// not a string is refused.
func TestCursorFieldEscapedOrWrongType(t *testing.T) {
	b := openMem(t, `,"shards":64`)
	for k := 0; k < 64; k++ {
		publishTo(t, b, k, 0, 3)
	}
	r := poll(t, b, `{"limit":70}`)
	if !r.HasMore || len(r.Events) != 70 {
		t.Fatalf("first poll: %d events, has_more %v", len(r.Events), r.HasMore)
	}
	plain, err := b.Poll([]byte(fmt.Sprintf(`{"limit":5,"cursor":%q}`, r.NextCursor)))
	if err != nil {
		t.Fatal(err)
	}
	escaped := strings.NewReplacer("/", `\/`, "+", `\u002b`, "e", `\u0065`).Replace(r.NextCursor)
	if escaped == r.NextCursor {
		t.Fatal("the cursor has nothing to escape")
	}
	got, err := b.Poll([]byte(`{"limit":5,"cursor":"` + escaped + `"}`))
	if err != nil || string(got) != string(plain) {
		t.Fatalf("escaped cursor: %v\n%s\nwant %s", err, got, plain)
	}
	for _, v := range []string{`5`, `true`, `{}`, `["x"]`} {
		_, err := b.Poll([]byte(`{"cursor":` + v + `}`))
		wantCode(t, err, CodeInvalidArgument, "cursor must be a string")
	}
}

// Polls running at once on one handle, each from its own cursor, answer as
// they do one at a time: the positions they decode into are pooled.
func TestCursorConcurrentPolls(t *testing.T) {
	b := openMem(t, `,"shards":64`)
	for k := 0; k < 64; k++ {
		publishTo(t, b, k, 0, 4)
	}
	var cursors []string
	want := map[string]string{}
	for c, i := "", 0; i < 6; i++ {
		out, err := b.Poll([]byte(fmt.Sprintf(`{"limit":40,"cursor":%q}`, c)))
		if err != nil {
			t.Fatal(err)
		}
		var r pollResp
		decodeStrict(t, out, &r)
		cursors = append(cursors, c)
		want[c] = string(out)
		c = r.NextCursor
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 60; i++ {
				c := cursors[(g+i)%len(cursors)]
				out, err := b.Poll([]byte(fmt.Sprintf(`{"limit":40,"cursor":%q}`, c)))
				if err == nil && string(out) != want[c] {
					err = fmt.Errorf("poll from cursor %d answered\n%.300s\nwant\n%.300s", (g+i)%len(cursors), out, want[c])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
