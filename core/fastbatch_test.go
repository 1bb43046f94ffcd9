package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fast batch publishing is observed from outside: the streams' config as the
// server reports it, and the reply subjects of the stored messages as a plain
// subscriber on the shard subjects sees them (a fast batch message's ends in
// .$FI).

// wireWatch counts the messages published to prefix's shard subjects, by
// whether they were sent in a fast batch.
type wireWatch struct {
	fast, perMsg atomic.Int64
}

func watchWire(t *testing.T, nc *nats.Conn, prefix string) *wireWatch {
	t.Helper()
	w := &wireWatch{}
	sub, err := nc.Subscribe(prefix+".shard.*", func(m *nats.Msg) {
		if strings.HasSuffix(m.Reply, fastSuffix) {
			w.fast.Add(1)
		} else {
			w.perMsg.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

// expect waits until the watcher has seen at least fast and perMsg messages
// (copies are delivered after the acks), then checks there are no more.
func (w *wireWatch) expect(t *testing.T, fast, perMsg int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for (w.fast.Load() < fast || w.perMsg.Load() < perMsg) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if f, p := w.fast.Load(), w.perMsg.Load(); f != fast || p != perMsg {
		t.Fatalf("on the wire: %d fast batch messages and %d per-message publishes, want %d and %d", f, p, fast, perMsg)
	}
	w.fast.Store(0)
	w.perMsg.Store(0)
}

func streamConfigOf(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return st.CachedInfo().Config
}

// On a 2.15 server the streams the bus creates allow fast batches, and a plain
// publish of several events per shard goes out in fast batches; batch_id and
// acks requests go per message.
func TestFastBatchUsedOnNewServer(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	js := rawJS(t, b)
	w := watchWire(t, js.Conn(), "netmesh")

	publishEvents(t, b, numberedEvents(0, 1000), "")
	w.expect(t, 1000, 0)
	for k := 0; k < 4; k++ {
		if c := streamConfigOf(t, js, streamName("netmesh", k)); !c.AllowBatchPublish {
			t.Fatalf("stream %d created without allow_batched on server %s", k, b.js.version)
		}
	}
	publishEvents(t, b, numberedEvents(1000, 200), `,"batch_id":"b-1"`)
	w.expect(t, 0, 200)
	r := publishEvents(t, b, numberedEvents(1200, 100), `,"acks":true`)
	w.expect(t, 0, 100)
	if len(r.Acks) != 100 {
		t.Fatalf("%d acks, want 100", len(r.Acks))
	}
	// One event on a shard is not worth a batch.
	publishEvents(t, b, numberedEvents(1300, 1), `,"shard":2`)
	w.expect(t, 0, 1)

	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 1301)
}

// The same batch_id request twice: the second stores nothing and counts every
// event a duplicate, exactly.
func TestFastBatchBatchIDExactlyOnce(t *testing.T) {
	b := openMem(t, `,"shards":4`)
	js := rawJS(t, b)
	req := `{"batch_id":"once","events":` + eventsJSON(numberedEvents(0, 600)) + `}`
	if r := publish(t, b, req); r.Published != 600 || r.Duplicates != 0 {
		t.Fatalf("first: %+v", r)
	}
	// A fast publish in between, on the same streams.
	publishEvents(t, b, numberedEvents(600, 400), "")
	if r := publish(t, b, req); r.Published != 0 || r.Duplicates != 600 {
		t.Fatalf("the same request again: published %d duplicates %d, want 0 and 600", r.Published, r.Duplicates)
	}
	// Half of it again under the same batch_id and indices: 300 duplicates.
	half := `{"batch_id":"once","events":` + eventsJSON(numberedEvents(0, 300)) + `}`
	if r := publish(t, b, half); r.Published != 0 || r.Duplicates != 300 {
		t.Fatalf("a prefix of it again: %+v", r)
	}
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 1000)
	var total uint64
	for k := 0; k < 4; k++ {
		st, err := js.Stream(context.Background(), streamName("netmesh", k))
		if err != nil {
			t.Fatal(err)
		}
		total += st.CachedInfo().State.Msgs
	}
	if total != 1000 {
		t.Fatalf("%d messages stored, want 1000", total)
	}
	if s := stats(t, b); s.Published != 1000 || s.Duplicates != 900 {
		t.Fatalf("stats: published %d duplicates %d, want 1000 and 900", s.Published, s.Duplicates)
	}
}

// Per-event acks stay exact while other publishers (fast batches, from this
// handle and another) interleave on the same shard: each ack's sequence holds
// exactly its event.
func TestFastBatchAcksExactWithInterleaving(t *testing.T) {
	dir := t.TempDir()
	a := openBus(t, storeConfig(dir, `,"memory":true`, `,"shards":1`))
	other := openBus(t, storeConfig(dir, `,"memory":true`, `,"shards":1`))
	js := rawJS(t, a)
	publishEvents(t, a, numberedEvents(1000, 1), "") // the stream exists
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g, bus := range []*Bus{a, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				evs := make([]string, 200)
				for j := range evs {
					evs[j] = fmt.Sprintf(`{"bg":%d,"i":%d,"j":%d}`, g, i, j)
				}
				if _, err := bus.Publish([]byte(`{"events":` + eventsJSON(evs) + `}`)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	st, err := js.Stream(context.Background(), streamName("netmesh", 0))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		evs := numberedEvents(round*100, 100)
		r := publishEvents(t, a, evs, `,"acks":true`)
		for i, ack := range r.Acks {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			m, err := st.GetMsg(ctx, mustUint(t, ack.Seq))
			cancel()
			if err != nil {
				t.Fatalf("event %d: get seq %s: %v", i, ack.Seq, err)
			}
			if want := `{"r":` + evs[i] + `,`; !strings.HasPrefix(string(m.Data), want) || ack.Duplicate {
				t.Fatalf("ack %d says seq %s (duplicate %v), which holds %s; want %s…", i, ack.Seq, ack.Duplicate, m.Data, want)
			}
		}
	}
	select {
	case err := <-errs:
		t.Fatalf("background publisher: %v", err)
	default:
	}
}

// A stream created without allow_batched (by an operator, or by an older
// server) keeps working per message and is not changed.
func TestFastBatchStreamWithoutFlag(t *testing.T) {
	srv := startTestServer(t)
	js := rawJSAt(t, srv.ClientURL(), nats.UserInfo("alice", "s3cr3t-pw"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "op_shard_0", Subjects: []string{"op.shard.0"},
		Storage: jetstream.MemoryStorage, AllowDirect: true, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	w := watchWire(t, js.Conn(), "op")
	b := openBus(t, urlConfig(srv.ClientURL(), `,"prefix":"op","shards":2,"auth":{"user":"alice","password":"s3cr3t-pw"}`))
	events := numberedEvents(0, 400)
	r := publish(t, b, `{"events":`+eventsJSON(events)+`,"shard":0}`)
	if r.Published != 400 {
		t.Fatalf("publish: %+v", r)
	}
	w.expect(t, 0, 400)
	if c := streamConfigOf(t, js, "op_shard_0"); c.AllowBatchPublish {
		t.Fatal("the existing stream was changed to allow_batched")
	}
	// Shard 1's stream is new, and fast.
	publishEvents(t, b, numberedEvents(400, 100), `,"shard":1`)
	w.expect(t, 100, 0)
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 500)
}

// A stream whose allow_batched is turned off after the bus saw it refuses the
// next fast batch: the publish still stores every event once, per message, and
// later publishes go per message.
func TestFastBatchFlagTurnedOff(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	js := rawJS(t, b)
	w := watchWire(t, js.Conn(), "netmesh")
	publishEvents(t, b, numberedEvents(0, 300), "")
	w.expect(t, 300, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := streamConfigOf(t, js, streamName("netmesh", 0))
	c.AllowBatchPublish = false
	if _, err := js.UpdateStream(ctx, c); err != nil {
		t.Fatal(err)
	}
	publishEvents(t, b, numberedEvents(300, 300), "")
	time.Sleep(100 * time.Millisecond)
	if f, p := w.fast.Load(), w.perMsg.Load(); p != 300 || f > 300 {
		// The server refuses the fast batch and stores none of it; every
		// event is sent again per message.
		t.Fatalf("after the flag went off: %d fast, %d per message; want at most 300 and 300", f, p)
	}
	w.fast.Store(0)
	w.perMsg.Store(0)
	publishEvents(t, b, numberedEvents(600, 300), "")
	w.expect(t, 0, 300)
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 900)
}

// Every server of the matrix publishes correctly; only 2.14 and later get
// allow_batched on new streams and fast batches on the wire.
func TestFastBatchServerMatrix(t *testing.T) {
	for _, srv := range matrixServers(t) {
		t.Run(srv.version, func(t *testing.T) {
			p := startNatsProc(t, srv.bin, t.TempDir(), freePort(t))
			js := rawJSAt(t, p.url())
			w := watchWire(t, js.Conn(), "fb")
			b := openBus(t, urlConfig(p.url(), `,"prefix":"fb","shards":4`))
			fast := versionAtLeast(b.js.version, 2, 14)
			publishEvents(t, b, numberedEvents(0, 800), "")
			if fast {
				w.expect(t, 800, 0)
			} else {
				w.expect(t, 0, 800)
			}
			for k := 0; k < 4; k++ {
				if c := streamConfigOf(t, js, streamName("fb", k)); c.AllowBatchPublish != fast {
					t.Fatalf("server %s: stream %d allow_batched %v, want %v", b.js.version, k, c.AllowBatchPublish, fast)
				}
			}
			req := `{"batch_id":"mx","events":` + eventsJSON(numberedEvents(800, 200)) + `}`
			publish(t, b, req)
			if r := publish(t, b, req); r.Published != 0 || r.Duplicates != 200 {
				t.Fatalf("batch_id again: %+v", r)
			}
			got, _ := pollAll(t, b, "", 1000, "")
			checkExactlyOnce(t, got, 1000)
		})
	}
}

// A server paused (SIGSTOP) under a fast batch, long enough for the publish to
// give up on the batch and send per message, loses and doubles nothing once it
// resumes: the batch's messages and their per-message resends meet in the
// dedup window.
func TestFastBatchServerStallMidBatch(t *testing.T) {
	p := startNatsProc(t, serverBinary(t, "NETMESH_NATS_SERVER"), t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":2`))
	publishEvents(t, b, numberedEvents(0, 100), "") // streams exist, and are fast
	if !b.js.streams.batched(0) || !b.js.streams.batched(1) {
		t.Fatalf("server %s: streams not batched", b.js.version)
	}
	p.stop(t)
	done := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		out, err := b.Publish([]byte(`{"timeout_ms":30000,"events":` + eventsJSON(numberedEvents(100, 20000)) + `}`))
		errc <- err
		done <- out
	}()
	time.Sleep(ackStall + time.Second) // the batch stalls; resends start
	p.cont()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("publish across the stall: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("publish did not return")
	}
	var r pubResp
	decodeStrict(t, <-done, &r)
	if r.Published != 20000 || r.Duplicates != 0 {
		t.Fatalf("publish across the stall: %+v, want 20000 published", r)
	}
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 20100)
}

// A server killed while a fast batch is on its way, and started again, loses
// and doubles nothing: the publish sends the batch again per message.
func TestFastBatchServerRestartMidBatch(t *testing.T) {
	p := startNatsProc(t, serverBinary(t, "NETMESH_NATS_SERVER"), t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":2`))
	publishEvents(t, b, numberedEvents(0, 100), "")
	p.stop(t) // the batch goes out but is not read...
	errc := make(chan error, 1)
	go func() {
		_, err := b.Publish([]byte(`{"timeout_ms":30000,"events":` + eventsJSON(numberedEvents(100, 20000)) + `}`))
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	p.kill() // ...and lost with the server
	time.Sleep(500 * time.Millisecond)
	p.start(t)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("publish across the restart: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("publish did not return")
	}
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 20100)
}
