package core

// Benchmarks of the core against plain nats.go on the same kind of server, in
// one run (see BENCHMARKS.md):
//
//	go test ./core -run '^$' -bench . -benchtime 2s -timeout 900s
//
// Every figure is events/s: 1000-event batches of 200-byte JSON events, file
// storage under b.TempDir(), transport=inproc (nats.InProcessServer, what the
// embedded default uses) or transport=tcp (127.0.0.1).
//
//   - Publish: one op is one 1000-event batch. BenchmarkPublishCore (Bus.Publish,
//     16 and 1 shards) beside BenchmarkPublishRawAsync (jetstream
//     PublishMsgAsync + Nats-Msg-Id, then PublishAsyncComplete).
//   - Poll: 100k events are stored by the core once per benchmark (16 shards and
//     1 shard). One op reads them all back: BenchmarkPollCore (cursor loop,
//     limit 1000), BenchmarkPollRawBatchGet (plain batched direct gets),
//     BenchmarkPollOrderedConsumer; BenchmarkPollPerMessageWalk (one direct get
//     per message, as net-mesh 0.23) reads benchWalkTotal per op.
//   - BenchmarkPublishInterleaved and BenchmarkPollInterleaved alternate core
//     and baselines inside each op and report the ratios directly: on a shared
//     machine they are the figures to trust for core/baseline.
//   - Micro-benchmarks with allocations: BenchmarkParsePublish,
//     BenchmarkDecodeRecord, BenchmarkEncodePoll.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	benchBatch     = 1000    // events per publish request and poll limit
	benchEventSize = 200     // bytes per event
	benchPollTotal = 100_000 // events pre-loaded for the poll benchmarks, per variant
	benchWalkTotal = 20_000  // events read per op by the per-message walk
	benchWait      = 60 * time.Second
)

// benchEvents returns n varied JSON events of exactly benchEventSize bytes,
// numbered from first.
func benchEvents(n, first int) [][]byte {
	actions := []string{"click", "view", "purchase", "scroll", "login", "logout", "search"}
	out := make([][]byte, n)
	x := uint64(first)*0x9E3779B97F4A7C15 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		seq := first + i
		ev := make([]byte, 0, benchEventSize)
		ev = append(ev, `{"user":"u`...)
		ev = strconv.AppendUint(ev, x%10000, 10)
		ev = append(ev, `","action":"`...)
		ev = append(ev, actions[(x>>20)%uint64(len(actions))]...)
		ev = append(ev, `","seq":`...)
		ev = strconv.AppendInt(ev, int64(seq), 10)
		ev = append(ev, `,"pad":"`...)
		for len(ev) < benchEventSize-2 {
			ev = append(ev, 'a'+byte((x>>uint(len(ev)%58))%26))
		}
		ev = append(ev, `"}`...)
		out[i] = ev
	}
	return out
}

// benchPublishRequest builds {"events":[…]}.
func benchPublishRequest(events [][]byte) []byte {
	req := make([]byte, 0, len(events)*(benchEventSize+1)+16)
	req = append(req, `{"events":[`...)
	for i, ev := range events {
		if i > 0 {
			req = append(req, ',')
		}
		req = append(req, ev...)
	}
	return append(req, "]}"...)
}

func benchReportEvents(b *testing.B, events int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

// benchOpen opens a bus and closes it when the benchmark ends.
func benchOpen(b *testing.B, config string) *Bus {
	b.Helper()
	bus, err := Open([]byte(config))
	if err != nil {
		b.Fatalf("open %s: %v", config, err)
	}
	b.Cleanup(func() { _ = bus.Close() })
	return bus
}

func benchEmbeddedConfig(dir, prefix string, shards int) string {
	return fmt.Sprintf(`{"embedded":{"store_dir":%s},"prefix":%q,"shards":%d,"log_level":"error"}`,
		strconv.Quote(dir), prefix, shards)
}

// benchServer starts a nats-server with JetStream on file storage in dir:
// in-process only, or also listening on a random 127.0.0.1 port.
func benchServer(b *testing.B, dir string, listen bool) *server.Server {
	b.Helper()
	opts := &server.Options{
		ServerName: "bench",
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: !listen,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
	}
	return runServer(b, opts)
}

// benchConnect connects plain nats.go in-process, or over TCP when tcp is set.
func benchConnect(b *testing.B, srv *server.Server, tcp bool) *nats.Conn {
	b.Helper()
	var nc *nats.Conn
	var err error
	if tcp {
		nc, err = nats.Connect(srv.ClientURL())
	} else {
		nc, err = nats.Connect("", nats.InProcessServer(srv))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// benchEmbeddedServer is the in-process server a bus without url runs on.
func benchEmbeddedServer(b *testing.B, bus *Bus) *server.Server {
	if bus.js == nil || bus.js.embedded == nil || bus.js.embedded.srv == nil {
		b.Fatal("bus has no embedded server")
	}
	return bus.js.embedded.srv
}

func benchMustPublish(b *testing.B, bus *Bus, req []byte, n int) {
	out, err := bus.Publish(req)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	want := `{"published":` + strconv.Itoa(n) + `,`
	if !bytes.HasPrefix(out, []byte(want)) {
		b.Fatalf("publish answered %s, want %s…", out, want)
	}
}

// benchCoreBus opens a bus on the embedded server (in-process), or on a separate
// server reached over TCP loopback, and publishes one batch so its streams exist.
func benchCoreBus(b *testing.B, tcp bool, shards int, req []byte) *Bus {
	dir := b.TempDir()
	var bus *Bus
	if tcp {
		srv := benchServer(b, dir, true)
		bus = benchOpen(b, fmt.Sprintf(`{"url":%q,"shards":%d,"log_level":"error"}`, srv.ClientURL(), shards))
	} else {
		bus = benchOpen(b, benchEmbeddedConfig(dir, "netmesh", shards))
	}
	benchMustPublish(b, bus, req, benchBatch)
	return bus
}

// BenchmarkPublishCore: Bus.Publish of one 1000-event request per op, on the
// embedded server (in-process) and on a separate server reached over TCP loopback.
func BenchmarkPublishCore(b *testing.B) {
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	for _, tcp := range []bool{false, true} {
		for _, shards := range []int{16, 1} {
			b.Run(fmt.Sprintf("transport=%s/shards=%d", benchTransport(tcp), shards), func(b *testing.B) {
				bus := benchCoreBus(b, tcp, shards, req)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					benchMustPublish(b, bus, req, benchBatch)
				}
				benchReportEvents(b, b.N*benchBatch)
			})
		}
	}
}

func benchTransport(tcp bool) string {
	if tcp {
		return "tcp"
	}
	return "inproc"
}

// benchRecords wraps events as the core stores them, so the baseline sends the
// same bytes.
func benchRecords(events [][]byte, shard int) [][]byte {
	recs := make([][]byte, len(events))
	ts := uint64(time.Now().UnixNano())
	for i, ev := range events {
		recs[i] = appendRecord(nil, ev, ts+uint64(i), shard)
	}
	return recs
}

// benchRawPub publishes with plain nats.go jetstream PublishMsgAsync, a
// Nats-Msg-Id per message, to one file-storage stream configured as the core's.
type benchRawPub struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	recs    [][]byte
	nonce   string
	batches int
	failed  atomic.Int64
}

func newBenchRawPub(b *testing.B, tcp bool, recs [][]byte) *benchRawPub {
	srv := benchServer(b, b.TempDir(), tcp)
	nc := benchConnect(b, srv, tcp)
	r := &benchRawPub{recs: recs, nonce: strconv.FormatUint(randomNonce(), 16) + ":0:"}
	var err error
	r.js, err = jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(
		func(jetstream.JetStream, *nats.Msg, error) { r.failed.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	r.stream, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "raw", Subjects: []string{"raw.0"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, Replicas: 1,
		AllowDirect: true, Duplicates: time.Hour, MaxMsgs: -1, MaxBytes: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	r.send(b) // warm up as the core's first batch does
	return r
}

// send publishes the 1000 records with fresh ids and waits for every ack.
func (r *benchRawPub) send(b *testing.B) {
	base := strconv.Itoa(r.batches*benchBatch) + ":"
	r.batches++
	for i, rec := range r.recs {
		m := &nats.Msg{Subject: "raw.0", Data: rec, Header: nats.Header{
			"Nats-Msg-Id": []string{r.nonce + base + strconv.Itoa(i)}}}
		if _, err := r.js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-r.js.PublishAsyncComplete():
	case <-time.After(benchWait):
		b.Fatal("acks did not complete")
	}
}

// check verifies, outside the timer, that every message was stored once.
func (r *benchRawPub) check(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	info, err := r.stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if n := r.failed.Load(); n > 0 || info.State.Msgs != uint64(r.batches*benchBatch) {
		b.Fatalf("%d failed publishes, %d stored, want %d", n, info.State.Msgs, r.batches*benchBatch)
	}
}

// BenchmarkPublishRawAsync is the baseline: plain nats.go jetstream
// PublishMsgAsync with a Nats-Msg-Id per message, 1000 messages per op, then
// PublishAsyncComplete, to one file-storage stream configured as the core's.
func BenchmarkPublishRawAsync(b *testing.B) {
	recs := benchRecords(benchEvents(benchBatch, 0), 0)
	for _, tcp := range []bool{false, true} {
		b.Run("transport="+benchTransport(tcp), func(b *testing.B) {
			r := newBenchRawPub(b, tcp, recs)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.send(b)
			}
			benchReportEvents(b, b.N*benchBatch)
			b.StopTimer()
			r.check(b)
		})
	}
}

// BenchmarkPublishInterleaved alternates one core batch and one raw
// PublishMsgAsync batch per op, each on its own server, timing them apart:
// both see the same machine load, so core/raw holds even on a busy machine.
func BenchmarkPublishInterleaved(b *testing.B) {
	events := benchEvents(benchBatch, 0)
	req, recs := benchPublishRequest(events), benchRecords(events, 0)
	for _, tcp := range []bool{false, true} {
		for _, shards := range []int{16, 1} {
			b.Run(fmt.Sprintf("transport=%s/shards=%d", benchTransport(tcp), shards), func(b *testing.B) {
				bus := benchCoreBus(b, tcp, shards, req)
				r := newBenchRawPub(b, tcp, recs)
				var core, raw time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					benchMustPublish(b, bus, req, benchBatch)
					t1 := time.Now()
					r.send(b)
					core, raw = core+t1.Sub(t0), raw+time.Since(t1)
				}
				b.StopTimer()
				r.check(b)
				benchReportPair(b, "core", core, "raw", raw, b.N*benchBatch, b.N*benchBatch)
			})
		}
	}
}

// benchReportPair reports both rates and their ratio.
func benchReportPair(b *testing.B, an string, ad time.Duration, bn string, bd time.Duration, aEvents, bEvents int) {
	ar := float64(aEvents) / ad.Seconds()
	br := float64(bEvents) / bd.Seconds()
	b.ReportMetric(ar, an+"-events/s")
	b.ReportMetric(br, bn+"-events/s")
	b.ReportMetric(ar/br, an+"/"+bn)
}

// benchPollData is benchPollTotal events stored by the core on 16 shards
// (prefix p16) and as many on 1 shard (prefix p1), in one embedded server that
// also listens on 127.0.0.1. Each set is read in-process (the embedded bus) and
// over TCP loopback (a second bus with url, and nats.go over TCP).
type benchPollData struct {
	sets []benchPollSet
}

type benchPollSet struct {
	name   string // sub-benchmark name
	bus    *Bus   // the core, in-process or over TCP
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	shards int
	counts []int // messages per shard stream
}

func benchPreload(b *testing.B) *benchPollData {
	b.Helper()
	dir := b.TempDir()
	embeddedCfg := func(prefix string, shards int) string {
		return fmt.Sprintf(`{"embedded":{"store_dir":%s,"listen":"127.0.0.1:0"},"prefix":%q,"shards":%d,"log_level":"error"}`,
			strconv.Quote(dir), prefix, shards)
	}
	buses := map[int]*Bus{}
	for _, shards := range []int{16, 1} {
		prefix := "p" + strconv.Itoa(shards)
		bus := benchOpen(b, embeddedCfg(prefix, shards))
		for n := 0; n < benchPollTotal; n += benchBatch {
			benchMustPublish(b, bus, benchPublishRequest(benchEvents(benchBatch, n)), benchBatch)
		}
		buses[shards] = bus
	}
	srv := benchEmbeddedServer(b, buses[16])
	d := &benchPollData{}
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	for _, tcp := range []bool{false, true} {
		nc := benchConnect(b, srv, tcp)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		for _, shards := range []int{16, 1} {
			prefix := "p" + strconv.Itoa(shards)
			s := benchPollSet{name: fmt.Sprintf("transport=%s/shards=%d", benchTransport(tcp), shards),
				bus: buses[shards], nc: nc, js: js, prefix: prefix, shards: shards}
			if tcp {
				s.bus = benchOpen(b, fmt.Sprintf(`{"url":%q,"prefix":%q,"shards":%d,"log_level":"error"}`,
					srv.ClientURL(), prefix, shards))
			}
			total := 0
			for k := 0; k < shards; k++ {
				st, err := js.Stream(ctx, streamName(prefix, k))
				if err != nil {
					b.Fatal(err)
				}
				info, err := st.Info(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if info.State.Msgs > 0 && (info.State.FirstSeq != 1 || info.State.LastSeq != info.State.Msgs) {
					b.Fatalf("stream %s holds %d..%d", info.Config.Name, info.State.FirstSeq, info.State.LastSeq)
				}
				s.counts = append(s.counts, int(info.State.Msgs))
				total += int(info.State.Msgs)
			}
			if total != benchPollTotal {
				b.Fatalf("%s: %d events stored, want %d", s.name, total, benchPollTotal)
			}
			d.sets = append(d.sets, s)
		}
	}
	return d
}

var (
	benchNextCursor = []byte(`"next_cursor":"`)
	benchHasMore    = []byte(`"has_more":true`)
	benchEventMark  = []byte(`{"id":"`)
)

// benchPollAll follows the cursor from a fresh start until has_more is false and
// returns how many events it read.
func benchPollAll(b *testing.B, bus *Bus, limit int) int {
	req := make([]byte, 0, 256)
	var cursor []byte
	total := 0
	for polls := 0; ; polls++ {
		req = append(req[:0], `{"limit":`...)
		req = strconv.AppendInt(req, int64(limit), 10)
		if cursor != nil {
			req = append(req, `,"cursor":"`...)
			req = append(req, cursor...)
			req = append(req, '"')
		}
		req = append(req, '}')
		out, err := bus.Poll(req)
		if err != nil {
			b.Fatalf("poll: %v", err)
		}
		n := bytes.Count(out, benchEventMark)
		total += n
		i := bytes.LastIndex(out, benchNextCursor)
		if i < 0 {
			b.Fatalf("poll answered without next_cursor: %.200s", out)
		}
		c := out[i+len(benchNextCursor):]
		cursor = append(cursor[:0], c[:bytes.IndexByte(c, '"')]...)
		if !bytes.Contains(out[i:], benchHasMore) {
			return total
		}
		if n == 0 || polls > 10*benchPollTotal/limit {
			b.Fatalf("poll %d: %d events with has_more", polls, n)
		}
	}
}

// BenchmarkPollCore: each op polls all pre-loaded events back with limit 1000,
// following the cursor from a fresh start.
func BenchmarkPollCore(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if n := benchPollAll(b, s.bus, benchBatch); n != benchPollTotal {
					b.Fatalf("polled %d events, want %d", n, benchPollTotal)
				}
			}
			benchReportEvents(b, b.N*benchPollTotal)
		})
	}
}

// benchWalk reads n events the net-mesh 0.23 way: one {"seq":S,"next_by_subj":…}
// direct get per message (nc.Request), shard after shard, n/shards from each.
func benchWalk(b *testing.B, s *benchPollSet, n int) {
	per := n / s.shards
	body := make([]byte, 0, 96)
	got := 0
	for k := 0; k < s.shards; k++ {
		api := "$JS.API.DIRECT.GET." + streamName(s.prefix, k)
		subj := subjectName(s.prefix, k)
		seq := uint64(1)
		for j := 0; j < per && j < s.counts[k]; j++ {
			body = append(body[:0], `{"seq":`...)
			body = strconv.AppendUint(body, seq, 10)
			body = append(body, `,"next_by_subj":"`...)
			body = append(body, subj...)
			body = append(body, `"}`...)
			m, err := s.nc.Request(api, body, benchWait)
			if err != nil {
				b.Fatal(err)
			}
			last, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
			if err != nil || len(m.Data) == 0 {
				b.Fatalf("direct get of %s seq %d: status %q", api, seq, m.Header.Get("Status"))
			}
			seq = last + 1
			got++
		}
	}
	if got != n {
		b.Fatalf("walked %d events, want %d", got, n)
	}
}

// BenchmarkPollPerMessageWalk is the net-mesh 0.23 way, one direct get per
// message, over the same data. One op reads benchWalkTotal events.
func BenchmarkPollPerMessageWalk(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchWalk(b, &s, benchWalkTotal)
			}
			benchReportEvents(b, b.N*benchWalkTotal)
		})
	}
}

// benchRawBatch reads every event with plain nats.go batched direct gets
// ({"seq":S,"batch":1000}, replies read until the 204 EOB), shard after shard,
// on a subscription to inbox.
func benchRawBatch(b *testing.B, s *benchPollSet, sub *nats.Subscription, inbox string) {
	body := make([]byte, 0, 64)
	got := 0
	for k := 0; k < s.shards; k++ {
		api := "$JS.API.DIRECT.GET." + streamName(s.prefix, k)
		next := uint64(1)
		for more := true; more; {
			body = append(body[:0], `{"seq":`...)
			body = strconv.AppendUint(body, next, 10)
			body = append(body, `,"batch":`...)
			body = strconv.AppendInt(body, benchBatch, 10)
			body = append(body, '}')
			if err := s.nc.PublishRequest(api, inbox, body); err != nil {
				b.Fatal(err)
			}
		reply:
			for {
				m, err := sub.NextMsg(benchWait)
				if err != nil {
					b.Fatal(err)
				}
				if len(m.Data) == 0 {
					switch st := m.Header.Get("Status"); st {
					case "204":
						more = m.Header.Get("Nats-Num-Pending") != "0"
					case "404":
						more = false
					default:
						b.Fatalf("direct get of %s: status %q", api, st)
					}
					break reply
				}
				seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				next = seq + 1
				got++
			}
		}
	}
	if got != benchPollTotal {
		b.Fatalf("read %d events, want %d", got, benchPollTotal)
	}
}

func benchInbox(b *testing.B, nc *nats.Conn) (*nats.Subscription, string) {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub, inbox
}

// BenchmarkPollRawBatchGet is plain nats.go issuing the batched direct get the
// core uses, 1000 per request: what the server gives a simple client, without
// the core's bookkeeping. One op reads every pre-loaded event.
func BenchmarkPollRawBatchGet(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			sub, inbox := benchInbox(b, s.nc)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchRawBatch(b, &s, sub, inbox)
			}
			benchReportEvents(b, b.N*benchPollTotal)
		})
	}
}

// benchOrdered reads every event with nats.go jetstream ordered consumers, one
// per shard stream, all at once.
func benchOrdered(b *testing.B, s *benchPollSet) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*benchWait)
	defer cancel()
	var wg sync.WaitGroup
	var got atomic.Int64
	errs := make(chan error, s.shards)
	for k := 0; k < s.shards; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cons, err := s.js.OrderedConsumer(ctx, streamName(s.prefix, k), jetstream.OrderedConsumerConfig{
				FilterSubjects: []string{subjectName(s.prefix, k)},
			})
			if err != nil {
				errs <- err
				return
			}
			it, err := cons.Messages(jetstream.PullMaxMessages(benchBatch))
			if err != nil {
				errs <- err
				return
			}
			defer it.Stop()
			for n := 0; n < s.counts[k]; n++ {
				if _, err := it.Next(); err != nil {
					errs <- err
					return
				}
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if got.Load() != benchPollTotal {
		b.Fatalf("read %d events, want %d", got.Load(), benchPollTotal)
	}
}

// BenchmarkPollOrderedConsumer: nats.go jetstream ordered consumers (one per
// shard stream, all at once) read every pre-loaded event per op.
func BenchmarkPollOrderedConsumer(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchOrdered(b, &s)
			}
			benchReportEvents(b, b.N*benchPollTotal)
		})
	}
}

// BenchmarkPollInterleaved runs, per op and one after another on the same data,
// the core poll of every event, the per-message walk of benchWalkTotal/2
// events, a raw batched direct get of every event and an ordered-consumer read
// of every event, timing each apart: all see the same machine load, so the
// ratios hold even on a busy machine.
func BenchmarkPollInterleaved(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			sub, inbox := benchInbox(b, s.nc)
			var core, walk, raw, ordered time.Duration
			walkN := benchWalkTotal / 2
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if n := benchPollAll(b, s.bus, benchBatch); n != benchPollTotal {
					b.Fatalf("polled %d events, want %d", n, benchPollTotal)
				}
				t1 := time.Now()
				benchWalk(b, &s, walkN)
				t2 := time.Now()
				benchRawBatch(b, &s, sub, inbox)
				t3 := time.Now()
				benchOrdered(b, &s)
				t4 := time.Now()
				core, walk, raw, ordered = core+t1.Sub(t0), walk+t2.Sub(t1), raw+t3.Sub(t2), ordered+t4.Sub(t3)
			}
			b.StopTimer()
			rate := func(events int, d time.Duration) float64 { return float64(b.N*events) / d.Seconds() }
			c := rate(benchPollTotal, core)
			b.ReportMetric(c, "core-events/s")
			b.ReportMetric(rate(walkN, walk), "walk-events/s")
			b.ReportMetric(rate(benchPollTotal, raw), "rawbatch-events/s")
			b.ReportMetric(rate(benchPollTotal, ordered), "ordered-events/s")
			b.ReportMetric(c/rate(walkN, walk), "core/walk")
			b.ReportMetric(c/rate(benchPollTotal, raw), "core/rawbatch")
			b.ReportMetric(c/rate(benchPollTotal, ordered), "core/ordered")
		})
	}
}

// BenchmarkParsePublish parses a publish request of 10 and of 1000 events:
// allocs/op must not grow with the number of events.
func BenchmarkParsePublish(b *testing.B) {
	bus := &Bus{cfg: defaultConfig()}
	for _, n := range []int{10, benchBatch} {
		req := benchPublishRequest(benchEvents(n, 0))
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			// allocs/req is exact whatever -benchtime is; allocs/op counts
			// whatever else the process allocated during a short run too.
			allocs := testing.AllocsPerRun(20, func() { _, _ = bus.parsePublish(req) })
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := bus.parsePublish(req)
				if err != nil || len(r.events) != n {
					b.Fatalf("parse: %d events, %v", len(r.events), err)
				}
			}
			benchReportEvents(b, b.N*n)
			b.ReportMetric(allocs, "allocs/req")
		})
	}
}

// BenchmarkDecodeRecord decodes 1000 stored records per op (the poll's per-event
// work), alone and as the reader's accumulator does it.
func BenchmarkDecodeRecord(b *testing.B) {
	recs := benchRecords(benchEvents(benchBatch, 0), 3)
	b.Run("decodeRecord", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, rec := range recs {
				if _, _, kind, _ := decodeRecord(rec, 3); kind != recordGood {
					b.Fatalf("record %s: kind %d", rec, kind)
				}
			}
		}
		benchReportEvents(b, b.N*len(recs))
	})
	b.Run("shardAcc.add", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			acc := &shardAcc{shard: 3, next: 1, pending: -1}
			for j, rec := range recs {
				acc.add(uint64(j+1), rec)
			}
		}
		benchReportEvents(b, b.N*len(recs))
	})
}

// BenchmarkEncodePoll encodes a 1000-event poll response from 16 shards.
func BenchmarkEncodePoll(b *testing.B) {
	const shards = 16
	events := benchEvents(benchBatch, 0)
	res := &pollResult{}
	pos := newCursorPos(shards)
	for k := 0; k < shards; k++ {
		acc := &shardAcc{shard: k, next: 1, pending: -1}
		var part [][]byte
		for i := k; i < len(events); i += shards {
			part = append(part, events[i])
		}
		for j, rec := range benchRecords(part, k) {
			acc.add(uint64(j+1), rec)
		}
		res.accs = append(res.accs, acc)
		res.take = append(res.take, len(acc.entries))
		res.events += len(acc.entries)
		pos.seq[k], pos.set[k] = uint64(len(acc.entries)), true
	}
	b.ReportAllocs()
	b.ResetTimer()
	var out []byte
	for i := 0; i < b.N; i++ {
		out = res.encodeWith(appendCursor(nil, pos), nil)
	}
	benchReportEvents(b, b.N*res.events)
	if n := bytes.Count(out, benchEventMark); n != benchBatch {
		b.Fatalf("encoded %d events, want %d", n, benchBatch)
	}
}

// BenchmarkEmptyPoll is the per-call cost of a poll that finds nothing, the Go
// side of the C, Python and Node figures of `make bench`.
func BenchmarkEmptyPoll(b *testing.B) {
	for _, shards := range []int{1, 16, 1024} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			bus := benchOpen(b, benchEmbeddedConfig(b.TempDir(), "empty", shards))
			if _, err := bus.Publish([]byte(`{"events":[{"warm":1}]}`)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			out, err := bus.Poll([]byte(`{"start":"latest","limit":1}`))
			if err != nil {
				b.Fatal(err)
			}
			var p struct {
				NextCursor string `json:"next_cursor"`
			}
			if err := json.Unmarshal(out, &p); err != nil {
				b.Fatal(err)
			}
			req := []byte(fmt.Sprintf(`{"cursor":%q}`, p.NextCursor))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bus.Poll(req); err != nil {
					b.Fatal(err)
				}
			}
			if s := b.Elapsed().Seconds(); s > 0 {
				b.ReportMetric(float64(b.N)/s, "calls/s")
			}
		})
	}
}
