package core

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sampleEvent is event i: every kind of JSON value, with whitespace, escapes and
// non-ASCII text inside, each unique.
func sampleEvent(i int) string {
	switch i % 6 {
	case 0:
		return fmt.Sprintf(`{"id":%d, "name" : "ev %d" ,"tags":[ 1, 2 ,3 ]}`, i, i)
	case 1:
		return fmt.Sprintf(`"string event %d with  two  spaces"`, i)
	case 2:
		return strconv.Itoa(1000000 + i)
	case 3:
		return fmt.Sprintf(`[ %d , "x" , { "k" : null } ]`, i)
	case 4:
		return fmt.Sprintf(`{"id":%d,"u":"h\u00e9llo \u2603 é ☃","esc":"a\"b\\c\n","deep":{"a":{"b":{"c":[true,false]}}}}`, i)
	default:
		return fmt.Sprintf("{\n\t\"id\": %d,\r\n  \"f\": 1.5e-3 , \"neg\":-0.25E+2\n}", i)
	}
}

func sampleEvents(from, n int) []string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = sampleEvent(from + i)
	}
	return evs
}

func TestRoundTrip(t *testing.T) {
	for _, shards := range []int{1, 16} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			b := openMem(t, fmt.Sprintf(`,"shards":%d`, shards))
			var all []string
			for batch := 0; batch < 5; batch++ {
				evs := sampleEvents(batch*120, 120)
				sep := ","
				if batch%2 == 1 {
					sep = " ,\n\t " // whitespace between events is not part of them
				}
				r := publish(t, b, "{ \"events\" : [ "+strings.Join(evs, sep)+" ] }")
				if r.Published != 120 || r.Duplicates != 0 || r.Acks != nil {
					t.Fatalf("publish batch %d: %+v", batch, r)
				}
				all = append(all, evs...)
			}
			got, _ := pollAll(t, b, "", 37, "")
			checkRoundTrip(t, got, all, shards)
			perShard := map[int]int{}
			for _, e := range got {
				perShard[e.Shard]++
			}
			if len(perShard) != shards {
				t.Fatalf("events landed on %d of %d shards", len(perShard), shards)
			}
			// ids are the stream sequences: 1..n on every shard.
			next := map[int]uint64{}
			for _, e := range got {
				next[e.Shard]++
				if id := mustUint(t, e.ID); id != next[e.Shard] {
					t.Fatalf("shard %d: id %d, want %d", e.Shard, id, next[e.Shard])
				}
			}
			s := stats(t, b)
			if s.Published != 600 || s.Polled != 600 || s.Duplicates != 0 || s.Shards != shards || !s.Embedded || !s.Healthy {
				t.Fatalf("stats after round trip: %+v", s)
			}
		})
	}
}

func TestPublishToShard(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	evs := sampleEvents(0, 30)
	publishEvents(t, b, evs, `,"shard":2`)
	got, _ := pollAll(t, b, "", 1000, "")
	if len(got) != 30 {
		t.Fatalf("polled %d events, want 30", len(got))
	}
	for i, e := range got {
		if e.Shard != 2 || string(e.Raw) != evs[i] || e.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d: shard %d id %s raw %s; want shard 2 id %d raw %s", i, e.Shard, e.ID, e.Raw, i+1, evs[i])
		}
	}
	for _, k := range []int{0, 1, 3} {
		if r := poll(t, b, fmt.Sprintf(`{"shard":%d}`, k)); len(r.Events) != 0 || r.HasMore {
			t.Fatalf("shard %d: %+v, want empty", k, r)
		}
	}
	// "shard": null routes by hash.
	publishEvents(t, b, []string{`{"x":1}`}, `,"shard":null`)
	r := poll(t, b, fmt.Sprintf(`{"shard":%d}`, routeShard([]byte(`{"x":1}`), 4)))
	found := false
	for _, e := range r.Events {
		found = found || string(e.Raw) == `{"x":1}`
	}
	if !found {
		t.Fatalf("event published with shard null is not on its routed shard: %+v", r)
	}
}

func TestBatchIDDedup(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	evs := sampleEvents(0, 7)
	req := `{"events":` + eventsJSON(evs) + `,"batch_id":"batch-1.a:b_c"}`
	if r := publish(t, b, req); r.Published != 7 || r.Duplicates != 0 {
		t.Fatalf("first publish: %+v", r)
	}
	if r := publish(t, b, req); r.Published != 0 || r.Duplicates != 7 {
		t.Fatalf("same batch_id again: %+v, want published 0 duplicates 7", r)
	}
	got, cursor := pollAll(t, b, "", 1000, "")
	checkRoundTrip(t, got, evs, 4)

	// Another batch_id, or none, stores the same events again.
	if r := publish(t, b, `{"events":`+eventsJSON(evs)+`,"batch_id":"batch-2"}`); r.Published != 7 || r.Duplicates != 0 {
		t.Fatalf("other batch_id: %+v", r)
	}
	if r := publish(t, b, `{"events":`+eventsJSON(evs)+`}`); r.Published != 7 || r.Duplicates != 0 {
		t.Fatalf("no batch_id: %+v", r)
	}
	if r := publish(t, b, `{"events":`+eventsJSON(evs)+`}`); r.Published != 7 || r.Duplicates != 0 {
		t.Fatalf("no batch_id, twice: %+v", r)
	}
	more, _ := pollAll(t, b, cursor, 1000, "")
	if len(more) != 21 {
		t.Fatalf("polled %d new events, want 21", len(more))
	}
	s := stats(t, b)
	if s.Published != 28 || s.Duplicates != 7 {
		t.Fatalf("stats published %d duplicates %d, want 28 and 7", s.Published, s.Duplicates)
	}
}

func TestPublishAcks(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	evs := sampleEvents(0, 40)
	req := `{"events":` + eventsJSON(evs) + `,"acks":true,"batch_id":"acks-1"}`
	r := publish(t, b, req)
	if r.Published != 40 || r.Duplicates != 0 || len(r.Acks) != 40 {
		t.Fatalf("publish with acks: published %d duplicates %d acks %d", r.Published, r.Duplicates, len(r.Acks))
	}
	next := map[int]uint64{}
	for i, a := range r.Acks {
		next[a.Shard]++
		if a.Shard != routeShard([]byte(evs[i]), 4) || a.Duplicate || mustUint(t, a.Seq) != next[a.Shard] {
			t.Fatalf("ack %d = %+v, want shard %d seq %d", i, a, routeShard([]byte(evs[i]), 4), next[a.Shard])
		}
	}
	got, _ := pollAll(t, b, "", 1000, "")
	byRaw := map[string]eventJSON{}
	for _, e := range got {
		byRaw[string(e.Raw)] = e
	}
	for i, a := range r.Acks {
		e, ok := byRaw[evs[i]]
		if !ok || e.Shard != a.Shard || e.ID != a.Seq {
			t.Fatalf("event %d acked at shard %d seq %s, polled as %+v", i, a.Shard, a.Seq, e)
		}
	}
	// The retry reports every event as a duplicate, at its original place.
	r2 := publish(t, b, req)
	if r2.Published != 0 || r2.Duplicates != 40 || len(r2.Acks) != 40 {
		t.Fatalf("retry: %+v", r2)
	}
	for i, a := range r2.Acks {
		if !a.Duplicate || a.Shard != r.Acks[i].Shard || a.Seq != r.Acks[i].Seq {
			t.Fatalf("retry ack %d = %+v, first %+v", i, a, r.Acks[i])
		}
	}
	// Without acks the response has exactly published and duplicates.
	out, err := b.Publish([]byte(`{"events":[1,2],"acks":false}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil || len(m) != 2 || string(m["published"]) != "2" || string(m["duplicates"]) != "0" {
		t.Fatalf("response without acks: %s", out)
	}
}

func TestRestartKeepsEvents(t *testing.T) {
	dir := t.TempDir()
	cfg := fileConfig(dir, `,"shards":4`)
	b := openBus(t, cfg)
	var all []string
	acked := map[string]ackJSON{}
	for batch := 0; batch < 3; batch++ {
		evs := sampleEvents(batch*100, 100)
		r := publish(t, b, `{"events":`+eventsJSON(evs)+`,"acks":true}`)
		if r.Published != 100 || len(r.Acks) != 100 {
			t.Fatalf("publish: %+v", r)
		}
		for i, a := range r.Acks {
			acked[evs[i]] = a
		}
		all = append(all, evs...)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b2 := openBus(t, cfg)
	got, cursor := pollAll(t, b2, "", 64, "")
	checkRoundTrip(t, got, all, 4)
	for _, e := range got {
		if a := acked[string(e.Raw)]; a.Shard != e.Shard || a.Seq != e.ID {
			t.Fatalf("after restart %s is at shard %d id %s, was acked at %+v", e.Raw, e.Shard, e.ID, a)
		}
	}
	// The restarted store goes on where it was.
	evs := sampleEvents(300, 20)
	publishEvents(t, b2, evs, "")
	more, _ := pollAll(t, b2, cursor, 1000, "")
	if len(more) != 20 {
		t.Fatalf("polled %d events after restart, want 20", len(more))
	}
	checkShardOrder(t, append(got, more...))
}

func TestSharedEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	cfg := fileConfig(dir, `,"shards":2`)
	b1 := openBus(t, cfg)
	b2 := openBus(t, cfg)
	if b1.js.embedded == nil || b1.js.embedded != b2.js.embedded {
		t.Fatalf("two buses on one store_dir run two servers")
	}
	publishEvents(t, b1, sampleEvents(0, 10), "")
	publishEvents(t, b2, sampleEvents(10, 10), "")
	if got, _ := pollAll(t, b2, "", 1000, ""); len(got) != 20 {
		t.Fatalf("b2 polled %d events, want 20", len(got))
	}
	if got, _ := pollAll(t, b1, "", 1000, ""); len(got) != 20 {
		t.Fatalf("b1 polled %d events, want 20", len(got))
	}

	// Differing embedded settings are refused, and leave the server alone.
	_, err := tryOpen(t, storeConfig(dir, `,"memory":true`, `,"shards":2`))
	wantCode(t, err, CodeInvalidArgument, "other settings")
	_, err = tryOpen(t, storeConfig(dir, `,"listen":"127.0.0.1:0"`, `,"shards":2`))
	wantCode(t, err, CodeInvalidArgument, "other settings")

	if err := b1.Close(); err != nil {
		t.Fatalf("close b1: %v", err)
	}
	publishEvents(t, b2, sampleEvents(20, 5), "")
	got, _ := pollAll(t, b2, "", 1000, "")
	if len(got) != 25 {
		t.Fatalf("after b1 closed, b2 polled %d events, want 25", len(got))
	}
	if err := b2.Close(); err != nil {
		t.Fatalf("close b2: %v", err)
	}
	key, err := storeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	embeddedMu.Lock()
	left := embedded[key]
	embeddedMu.Unlock()
	if left != nil {
		t.Fatalf("embedded server still registered after its last bus closed")
	}
}

const helperEnv = "NETMESH_TEST_HELPER_STORE_DIR"

// TestHelperProcess is the child of TestSecondProcessStoreDir: it opens a bus
// on the store dir it is given and prints the outcome. It calls Open itself: it
// reports Open's error rather than failing, and ends with os.Exit.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestSecondProcessStoreDir")
	}
	b, err := Open([]byte(fileConfig(dir, `,"shards":1`)))
	if err != nil {
		fmt.Printf("code=%s\nmsg=%s\n", CodeOf(err), strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(0)
	}
	r, perr := b.Publish([]byte(`{"events":[{"from":"child"}]}`))
	b.Close()
	fmt.Printf("code=ok\npublish=%s %v\n", r, perr)
	os.Exit(0)
}

func runHelper(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := childTest("TestHelperProcess", helperEnv, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	res := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			res[k] = v
		}
	}
	if res["code"] == "" {
		t.Fatalf("helper process printed no code:\n%s", out)
	}
	return res
}

func TestSecondProcessStoreDir(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, fileConfig(dir, `,"shards":1`))
	publishEvents(t, b, []string{`{"from":"parent"}`}, "")
	res := runHelper(t, dir)
	if res["code"] != "invalid_argument" || !strings.Contains(res["msg"], "in use") {
		t.Fatalf("second process on a store dir in use: code=%s msg=%s", res["code"], res["msg"])
	}
	if !strings.Contains(res["msg"], strconv.Itoa(os.Getpid())) {
		t.Errorf("message does not name the owning pid %d: %s", os.Getpid(), res["msg"])
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the first process lets go, another may use the dir.
	res = runHelper(t, dir)
	if res["code"] != "ok" || res["publish"] != `{"published":1,"duplicates":0} <nil>` {
		t.Fatalf("after close, the child got code=%s msg=%s publish=%s", res["code"], res["msg"], res["publish"])
	}
	b2 := openBus(t, fileConfig(dir, `,"shards":1`))
	got, _ := pollAll(t, b2, "", 100, "")
	if len(got) != 2 || string(got[0].Raw) != `{"from":"parent"}` || string(got[1].Raw) != `{"from":"child"}` {
		t.Fatalf("store after both processes: %+v", got)
	}
}

func TestCallsAfterClose(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	publishEvents(t, b, []string{`1`}, "")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := b.Publish([]byte(`{"events":[1]}`))
	wantCode(t, err, CodeShutdown)
	_, err = b.Publish([]byte(`not even json`))
	wantCode(t, err, CodeShutdown)
	_, err = b.Poll([]byte(`{}`))
	wantCode(t, err, CodeShutdown)
	_, err = b.Stats()
	wantCode(t, err, CodeShutdown)
	wantCode(t, b.Close(), CodeShutdown)
	wantCode(t, b.Close(), CodeShutdown)
}

func TestCloseEndsLongPoll(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	res := make(chan error, 1)
	go func() {
		_, err := b.Poll([]byte(`{"wait_ms":120000}`))
		res <- err
	}()
	waitForWaiter(t, b)
	if err := b.Close(); err != nil {
		t.Fatalf("Close during a long poll: %v", err)
	}
	select {
	case err := <-res:
		wantCode(t, err, CodeShutdown)
	case <-time.After(30 * time.Second):
		t.Fatal("long poll did not end on Close")
	}
}

// waitForWaiter returns once a long poll on b is registered for wake-ups.
func waitForWaiter(t *testing.T, b *Bus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.js.index.mu.Lock()
		n := b.js.index.waiters
		b.js.index.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no long poll started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentPublishPoll(t *testing.T) {
	const shards, producers, batches, perBatch = 4, 4, 20, 50
	b := openMem(t, fmt.Sprintf(`,"shards":%d`, shards))
	var done atomic.Bool
	var pwg, cwg sync.WaitGroup
	for p := 0; p < producers; p++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for j := 0; j < batches; j++ {
				evs := make([]string, perBatch)
				for i := range evs {
					evs[i] = fmt.Sprintf(`{"p":%d,"n":%d}`, p, j*perBatch+i)
				}
				out, err := b.Publish([]byte(`{"events":` + eventsJSON(evs) + `}`))
				if err != nil || string(out) != fmt.Sprintf(`{"published":%d,"duplicates":0}`, perBatch) {
					t.Errorf("producer %d batch %d: %s %v", p, j, out, err)
					return
				}
			}
		}()
	}
	got := make([][]eventJSON, shards)
	for k := 0; k < shards; k++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			cursor := ""
			for reads := 0; reads < 100000; reads++ {
				finished := done.Load() // every publish was acknowledged before this read
				evs, next, err := pollAllErr(b, cursor, 97, fmt.Sprintf(`,"shard":%d,"wait_ms":100`, k))
				if err != nil {
					t.Errorf("consumer %d: %v", k, err)
					return
				}
				got[k] = append(got[k], evs...)
				cursor = next
				if finished { // read to an empty poll after every publish: all read
					return
				}
			}
			t.Errorf("consumer %d did not finish", k)
		}()
	}
	pwg.Wait()
	done.Store(true)
	cwg.Wait()
	if t.Failed() {
		return
	}
	type key struct{ p, n int }
	seen := map[key]bool{}
	total := 0
	for k, evs := range got {
		last := map[int]int{}
		for _, e := range evs {
			var v struct{ P, N int }
			if err := json.Unmarshal(e.Raw, &v); err != nil {
				t.Fatalf("event %s: %v", e.Raw, err)
			}
			kk := key{v.P, v.N}
			if seen[kk] {
				t.Fatalf("event %s polled twice", e.Raw)
			}
			seen[kk] = true
			if e.Shard != k || routeShard(e.Raw, shards) != k {
				t.Fatalf("consumer of shard %d got %s from shard %d", k, e.Raw, e.Shard)
			}
			if l, ok := last[v.P]; ok && v.N <= l {
				t.Fatalf("shard %d: producer %d event %d after %d", k, v.P, v.N, l)
			}
			last[v.P] = v.N
			total++
		}
		for i := 1; i < len(evs); i++ {
			if mustUint(t, evs[i].ID) <= mustUint(t, evs[i-1].ID) {
				t.Fatalf("shard %d: id %s after %s", k, evs[i].ID, evs[i-1].ID)
			}
		}
	}
	if want := producers * batches * perBatch; total != want || len(seen) != want {
		t.Fatalf("polled %d distinct events, want %d", len(seen), want)
	}
	if s := stats(t, b); s.Published != 4000 || s.Polled != 4000 {
		t.Fatalf("stats: published %d polled %d, want 4000", s.Published, s.Polled)
	}
}

// docs/reference.md: within one handle, t increases by at least 1 per event on
// each shard. Concurrent publishes on one handle to one shard take their
// timestamps in one order and may reach the stream in another.
func TestTimestampsIncreasePerShardUnderConcurrency(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 30; j++ {
				if _, err := b.Publish([]byte(fmt.Sprintf(`{"events":[%d,%d,%d,%d,%d]}`, p, p, p, p, p))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, _ := pollAll(t, b, "", 1000, "")
	if len(got) != 600 {
		t.Fatalf("polled %d events, want 600", len(got))
	}
	back := 0
	for i := 1; i < len(got); i++ {
		if mustUint(t, got[i].TS) <= mustUint(t, got[i-1].TS) {
			back++
		}
	}
	if back > 0 {
		t.Fatalf("ts goes backwards %d times in shard order (e.g. concurrent publishes on one handle)", back)
	}
}

func TestWaitReturnsEarly(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	type result struct {
		r   pollResp
		err error
		d   time.Duration
	}
	res := make(chan result, 1)
	go func() {
		start := time.Now()
		r, err := pollErr(b, `{"wait_ms":20000}`)
		res <- result{r, err, time.Since(start)}
	}()
	waitForWaiter(t, b)
	time.Sleep(200 * time.Millisecond)
	woken := b.js.index.changes()
	publishEvents(t, b, []string{`{"wake":"up"}`}, "")
	// The event itself wakes the poll (not only its periodic re-check).
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing an event did not wake the long poll")
	}
	var got result
	select {
	case got = <-res:
	case <-time.After(60 * time.Second):
		t.Fatal("long poll did not return")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	if len(got.r.Events) != 1 || string(got.r.Events[0].Raw) != `{"wake":"up"}` {
		t.Fatalf("long poll returned %+v", got.r)
	}
	if got.d >= 10*time.Second {
		t.Fatalf("long poll took %v: it did not return when the event arrived", got.d)
	}

	// Nothing arrives: empty after about wait_ms, cursor still usable.
	start := time.Now()
	r := poll(t, b, `{"wait_ms":300,"cursor":`+jsonQuote(got.r.NextCursor)+`}`)
	if d := time.Since(start); len(r.Events) != 0 || r.HasMore || d < 300*time.Millisecond {
		t.Fatalf("idle long poll: %+v after %v, want empty after >= 300ms", r, d)
	}
	if cursorJSON(t, r.NextCursor) != cursorJSON(t, got.r.NextCursor) {
		t.Fatalf("idle poll moved the cursor: %s -> %s", cursorJSON(t, got.r.NextCursor), cursorJSON(t, r.NextCursor))
	}
}

func TestStartLatest(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	publishEvents(t, b, sampleEvents(0, 40), "")
	r := poll(t, b, `{"start":"latest"}`)
	if len(r.Events) != 0 || r.HasMore {
		t.Fatalf("latest returned old events: %+v", r)
	}
	// Every shard is placed, at its last sequence.
	var pos map[string]string
	if err := json.Unmarshal([]byte(cursorJSON(t, r.NextCursor)), &pos); err != nil || len(pos) != 4 {
		t.Fatalf("latest cursor %s: %v", cursorJSON(t, r.NextCursor), err)
	}
	old, _ := pollAll(t, b, "", 1000, "")
	lastSeq := map[int]string{}
	for _, e := range old {
		lastSeq[e.Shard] = e.ID
	}
	for k := 0; k < 4; k++ {
		want := lastSeq[k]
		if want == "" {
			want = "0"
		}
		if pos[strconv.Itoa(k)] != want {
			t.Fatalf("latest cursor for shard %d is %s, want %s", k, pos[strconv.Itoa(k)], want)
		}
	}
	// Only what is published after the latest poll is seen.
	evs := sampleEvents(1000, 25)
	publishEvents(t, b, evs, "")
	got, _ := pollAll(t, b, r.NextCursor, 1000, "")
	checkRoundTrip(t, got, evs, 4)
	// "latest" does not move a shard the cursor already names.
	r2 := poll(t, b, `{"start":"latest","cursor":`+jsonQuote(r.NextCursor)+`}`)
	if len(r2.Events) != 25 {
		t.Fatalf("latest with a cursor: %d events, want 25", len(r2.Events))
	}
	// Latest on a bus never written starts at 0.
	b2 := openMem(t, `,"shards":2`)
	r3 := poll(t, b2, `{"start":"latest"}`)
	if c := cursorJSON(t, r3.NextCursor); c != `{"0":"0","1":"0"}` {
		t.Fatalf("latest on empty shards: cursor %s", c)
	}
	publishEvents(t, b2, []string{`"a"`, `"b"`}, `,"shard":1`)
	r4 := poll(t, b2, `{"cursor":`+jsonQuote(r3.NextCursor)+`}`)
	if len(r4.Events) != 2 || string(r4.Events[0].Raw) != `"a"` {
		t.Fatalf("after latest on empty shards: %+v", r4)
	}
}

func TestMaxMessages(t *testing.T) {
	b := openMem(t, `,"shards":1,"max_messages":10`)
	var evs []string
	for i := 0; i < 25; i++ {
		evs = append(evs, fmt.Sprintf(`{"i":%d}`, i))
	}
	publishEvents(t, b, evs[:13], "")
	publishEvents(t, b, evs[13:], "")
	got, _ := pollAll(t, b, "", 1000, "")
	if len(got) != 10 {
		t.Fatalf("polled %d events with max_messages 10", len(got))
	}
	for i, e := range got {
		if string(e.Raw) != evs[15+i] || e.ID != strconv.Itoa(16+i) {
			t.Fatalf("event %d: id %s raw %s, want id %d raw %s", i, e.ID, e.Raw, 16+i, evs[15+i])
		}
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	b := openMem(t, `,"shards":2,"max_age_ms":1000,"dedup_window_ms":500`)
	publishEvents(t, b, sampleEvents(0, 20), "")
	if got, _ := pollAll(t, b, "", 1000, ""); len(got) != 20 {
		t.Fatalf("polled %d fresh events, want 20", len(got))
	}
	time.Sleep(2500 * time.Millisecond)
	r := poll(t, b, `{}`)
	if len(r.Events) != 0 || r.HasMore {
		t.Fatalf("events older than max_age are still there: %d events, has_more %v", len(r.Events), r.HasMore)
	}
}

// exactRequest pads a publish request of one string event to exactly n bytes.
func exactRequest(n int) string {
	const frame = `{"events":[""]}`
	return `{"events":[` + jsonQuote(strings.Repeat("x", n-len(frame))) + `]}`
}

func TestTooLarge(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	limit := b.js.pub.maxPayload()
	if limit != 1<<20 {
		t.Fatalf("embedded server max_payload %d, want 1 MiB", limit)
	}
	// The stored message (record + Nats-Msg-Id header) of a string event of n
	// bytes, published with batch_id "big" as event 0 of shard 0.
	tsDigits := len(strconv.FormatUint(uint64(time.Now().UnixNano()), 10))
	overhead := len(`{"r":,"t":,"s":0}`) + tsDigits + len("NATS/1.0\r\nNats-Msg-Id: big:0\r\n\r\n")
	strEvent := func(n int) string { return jsonQuote(strings.Repeat("y", n-2)) }

	// Exactly at max_payload: stored.
	fits := strEvent(limit - overhead)
	r := publish(t, b, `{"events":[`+fits+`],"batch_id":"big"}`)
	if r.Published != 1 {
		t.Fatalf("event filling max_payload exactly: %+v", r)
	}
	got, cursor := pollAll(t, b, "", 10, "")
	if len(got) != 1 || string(got[0].Raw) != fits {
		t.Fatalf("polled %d events back, want the 1 MiB one", len(got))
	}

	// One byte over, as the second event: nothing of the request is stored.
	over := strEvent(limit - overhead + 1)
	_, err := b.Publish([]byte(`{"events":[{"small":1},` + over + `],"batch_id":"big2"}`))
	wantCode(t, err, CodeTooLarge, "events[1]")
	_, err = b.Publish([]byte(`{"events":[{"small":1},` + strEvent(2<<20) + `]}`))
	wantCode(t, err, CodeTooLarge, "events[1]")
	if more, _ := pollAll(t, b, cursor, 10, ""); len(more) != 0 {
		t.Fatalf("a rejected request stored %d events", len(more))
	}

	// max_request_bytes bounds whole requests, publish and poll alike.
	b2 := openMem(t, `,"shards":1,"max_request_bytes":1024`)
	r = publish(t, b2, exactRequest(1024))
	if r.Published != 1 {
		t.Fatalf("request of exactly max_request_bytes: %+v", r)
	}
	_, err = b2.Publish([]byte(exactRequest(1025)))
	wantCode(t, err, CodeTooLarge, "1025", "1024")
	_, err = b2.Poll([]byte(`{"limit":1` + strings.Repeat(" ", 1020) + `}`))
	wantCode(t, err, CodeTooLarge, "max_request_bytes")
	if got, _ := pollAll(t, b2, "", 10, ""); len(got) != 1 {
		t.Fatalf("polled %d events, want the one that fit", len(got))
	}
	s := stats(t, b2)
	if s.Errors["too_large"] != 2 || s.Published != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestEmptyEvents(t *testing.T) {
	b := openMem(t, `,"shards":2`)
	for _, req := range []string{`{"events":[]}`, `{"events":[ ]}`, `{"events":[],"batch_id":"e"}`, `{"events":[],"shard":1}`} {
		out, err := b.Publish([]byte(req))
		if err != nil || string(out) != `{"published":0,"duplicates":0}` {
			t.Fatalf("Publish(%s) = %s, %v", req, out, err)
		}
	}
	r := poll(t, b, `{}`)
	if len(r.Events) != 0 || r.HasMore {
		t.Fatalf("empty publishes stored something: %+v", r)
	}
	if s := stats(t, b); s.Published != 0 {
		t.Fatalf("stats published %d", s.Published)
	}
}

func TestPublishInvalid(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	for _, tc := range []struct{ req, mention string }{
		{`{"events":[null]}`, "events[0]"},
		{`{"events":[1,null]}`, "events[1]"},
		{`{"events":[1, null ,2]}`, "events[1]"},
		{`{"events":[{"a":}]}`, "JSON"},
		{`{"events":[{"a":1]}`, "JSON"},
		{`{"events":[1,]}`, "JSON"},
		{`{"events":[nul]}`, "JSON"},
		{`{"events":[1]`, "JSON"},
		{`{}`, "events"},
		{``, "events"},
		{`{"shard":1}`, "events"},
		{`{"events":null}`, "events"},
		{`{"events":{"a":1}}`, "events"},
		{`{"events":"[1]"}`, "events"},
		{`[1,2]`, "object"},
		{"{\"events\":[\"\xff\"]}", "UTF-8"},
		{"{\"events\":[{\"k\xc3\":1}]}", "UTF-8"},
		{"{\"events\":[1]}\xff", "UTF-8"},
		{"{\"events\":[\"ok\"],\"batch_id\":\"\xed\xa0\x80\"}", "UTF-8"},
		{`{"events":[1],"batch_id":""}`, "batch_id"},
		{`{"events":[1],"batch_id":"a b"}`, "batch_id"},
		{`{"events":[1],"batch_id":"a/b"}`, "batch_id"},
		{`{"events":[1],"batch_id":"é"}`, "batch_id"},
		{`{"events":[1],"batch_id":` + jsonQuote(strings.Repeat("a", 129)) + `}`, "batch_id"},
		{`{"events":[1],"batch_id":5}`, "batch_id"},
		{`{"events":[1],"shard":4}`, "0..3"},
		{`{"events":[1],"shard":-1}`, "0..3"},
		{`{"events":[1],"shard":1.5}`, "shard"},
		{`{"events":[1],"shard":"1"}`, "shard"},
		{`{"events":[1],"timeout_ms":0}`, "timeout_ms"},
		{`{"events":[1],"timeout_ms":3600001}`, "1..3600000"},
		{`{"events":[1],"acks":1}`, "acks"},
		{`{"events":[1],"acks":null}`, "acks"},
		{`{"events":[1],"event":[2]}`, "unknown field"},
		{`{"events":[1],"bogus":null}`, "unknown field"},
		{`{"events":[1],"events":[2]}`, "twice"},
	} {
		_, err := b.Publish([]byte(tc.req))
		if err == nil {
			t.Errorf("Publish(%q): accepted", tc.req)
			continue
		}
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Publish(%q): %v (code %v), want invalid_argument mentioning %q", tc.req, err, CodeOf(err), tc.mention)
		}
	}
	// Valid corner cases next to them.
	for _, req := range []string{
		`{"events":[1],"batch_id":` + jsonQuote(strings.Repeat("a", 128)) + `}`,
		`{"events":[1],"batch_id":null,"shard":null,"timeout_ms":null}`,
		`{"events":["null"],"shard":3,"timeout_ms":3600000,"acks":false}`,
		`{"events":[0,false,"",{},[]]}`,
	} {
		if _, err := b.Publish([]byte(req)); err != nil {
			t.Errorf("Publish(%s): %v", req, err)
		}
	}
	got, _ := pollAll(t, b, "", 1000, "")
	if len(got) != 8 {
		t.Fatalf("polled %d events, want the 8 valid ones (no invalid request stored anything)", len(got))
	}
}

func TestStatsCounters(t *testing.T) {
	b := openMem(t, `,"shards":2,"max_request_bytes":2048`)
	publishEvents(t, b, sampleEvents(0, 3), "")                                    // published 3
	publish(t, b, `{"events":[1,2],"batch_id":"s1"}`)                              // published 2
	if r := publish(t, b, `{"events":[1,2],"batch_id":"s1"}`); r.Duplicates != 2 { // duplicates 2
		t.Fatalf("%+v", r)
	}
	_, err := b.Publish([]byte(`{"events":[null]}`)) // invalid_argument 1
	wantCode(t, err, CodeInvalidArgument)
	_, err = b.Publish([]byte(exactRequest(2049))) // too_large 1
	wantCode(t, err, CodeTooLarge)
	_, err = b.Poll([]byte(`{"limit":0}`)) // invalid_argument 2
	wantCode(t, err, CodeInvalidArgument)
	_, err = b.Poll([]byte(`{"cursor":"!!"}`)) // invalid_argument 3
	wantCode(t, err, CodeInvalidArgument)
	r := poll(t, b, `{"limit":4}`) // polled 4
	if len(r.Events) != 4 {
		t.Fatalf("polled %d, want 4", len(r.Events))
	}
	more, _ := pollAll(t, b, r.NextCursor, 1000, "") // polled 1
	if len(more) != 1 {
		t.Fatalf("polled %d more, want 1", len(more))
	}
	if again := poll(t, b, `{"limit":3}`); len(again.Events) != 3 { // polled 3, again
		t.Fatalf("polled %d from the start, want 3", len(again.Events))
	}
	s := stats(t, b)
	// invalid_handle is answered by the C ABI before any bus, so a bus does not count it.
	wantErrs := map[string]uint64{"invalid_argument": 3, "connection": 0, "transient": 0,
		"fatal": 0, "too_large": 1, "shutdown": 0, "internal": 0}
	if s.Published != 5 || s.Duplicates != 2 || s.Polled != 8 || s.Skipped != 0 || len(s.Errors) != len(wantErrs) {
		t.Fatalf("stats %+v", s)
	}
	for k, v := range wantErrs {
		if got, ok := s.Errors[k]; !ok || got != v {
			t.Fatalf("errors[%s] = %d (present %v), want %d; stats %+v", k, got, ok, v, s)
		}
	}
	if s.Shards != 2 || s.Prefix != "netmesh" || !s.Embedded || !s.Healthy || s.Server.Version == "" || !s.Server.BatchedReads {
		t.Fatalf("stats %+v", s)
	}
}

func TestURLServer(t *testing.T) {
	srv := startTestServer(t)
	addr := srv.Addr().String()
	url := "nats://alice:s3cr3t-pw@" + addr
	b := openBus(t, urlConfig(url, `,"prefix":"ext","shards":3`))
	evs := sampleEvents(0, 90)
	publishEvents(t, b, evs, "")
	got, _ := pollAll(t, b, "", 40, "")
	checkRoundTrip(t, got, evs, 3)
	s := stats(t, b)
	if s.Embedded || s.Prefix != "ext" || strings.Contains(s.Server.URL, "s3cr3t") || !strings.Contains(s.Server.URL, addr) {
		t.Fatalf("stats of a url bus: %+v", s)
	}
	// The streams are the ones docs/reference.md names (P_shard_k with the one
	// subject P.shard.k), with its settings.
	js := rawJSAt(t, "nats://"+addr, nats.UserInfo("alice", "s3cr3t-pw"))
	for k := 0; k < 3; k++ {
		st, err := js.Stream(context.Background(), fmt.Sprintf("ext_shard_%d", k))
		if err != nil {
			t.Fatalf("stream of shard %d: %v", k, err)
		}
		c := st.CachedInfo().Config
		if len(c.Subjects) != 1 || c.Subjects[0] != fmt.Sprintf("ext.shard.%d", k) || !c.AllowDirect ||
			c.Storage != jetstream.FileStorage || c.Discard != jetstream.DiscardOld || c.Duplicates != time.Hour || c.Replicas != 1 {
			t.Fatalf("stream config of shard %d: %+v", k, c)
		}
	}

	// Wrong credentials: connection, and the password never shows.
	_, err := tryOpen(t, urlConfig("nats://alice:wr0ng-pw@"+addr, `,"connect_timeout_ms":2000`))
	wantCode(t, err, CodeConnection)
	if strings.Contains(err.Error(), "wr0ng-pw") {
		t.Fatalf("auth failure leaks the password: %v", err)
	}
}

func TestEmbeddedListenWithAuth(t *testing.T) {
	b := openBus(t, storeConfig(t.TempDir(), `,"memory":true,"listen":"127.0.0.1:0"`, `,"auth":{"token":"t0k3n"},"shards":1`))
	url := stats(t, b).Server.URL
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("listening embedded server url %q", url)
	}
	if nc, err := nats.Connect(url, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("another process connected without the token")
	}
	js := rawJSAt(t, url, nats.Token("t0k3n"))
	publishEvents(t, b, []string{`{"shared":true}`}, "")
	st, err := js.Stream(context.Background(), "netmesh_shard_0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(m.Data, []byte(`{"r":{"shared":true},"t":`)) || !bytes.HasSuffix(m.Data, []byte(`,"s":0}`)) {
		t.Fatalf("stored record seen from another client: %s", m.Data)
	}
}
