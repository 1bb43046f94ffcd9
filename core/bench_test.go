package core

// Benchmarks of the core against plain nats.go on the same server, in one run.
//
//	go test ./core -run '^$' -bench . -benchtime 3x -timeout 900s
//
// Every figure is reported as events/s: 1000-event batches of 200-byte JSON
// events, file storage under b.TempDir(). Publish: one op is one 1000-event
// batch (BenchmarkPublishCore, BenchmarkPublishRawAsync). Poll: 100k events are
// loaded once per benchmark (16 shards and 1 shard); one op reads them all back
// (BenchmarkPollCore, BenchmarkPollOrderedConsumer) or, for the slow
// one-request-per-message walk, benchWalkTotal of them (BenchmarkPollPerMessageWalk).

import (
	"bytes"
	"context"
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
	srv, err := server.NewServer(opts)
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		b.Fatal("server not ready")
	}
	b.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
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

// BenchmarkPublishCore: Bus.Publish of one 1000-event request per op, on the
// embedded server (in-process) and on a separate server reached over TCP loopback.
func BenchmarkPublishCore(b *testing.B) {
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	for _, tcp := range []bool{false, true} {
		for _, shards := range []int{16, 1} {
			name := fmt.Sprintf("transport=%s/shards=%d", benchTransport(tcp), shards)
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				var bus *Bus
				if tcp {
					srv := benchServer(b, dir, true)
					bus = benchOpen(b, fmt.Sprintf(`{"url":%q,"shards":%d,"log_level":"error"}`, srv.ClientURL(), shards))
				} else {
					bus = benchOpen(b, benchEmbeddedConfig(dir, "netmesh", shards))
				}
				benchMustPublish(b, bus, req, benchBatch) // creates the streams
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

// BenchmarkPublishRawAsync is the baseline: plain nats.go jetstream
// PublishMsgAsync with a Nats-Msg-Id per message, 1000 messages per op, then
// PublishAsyncComplete, to one file-storage stream configured as the core's.
func BenchmarkPublishRawAsync(b *testing.B) {
	recs := benchRecords(benchEvents(benchBatch, 0), 0)
	for _, tcp := range []bool{false, true} {
		b.Run("transport="+benchTransport(tcp), func(b *testing.B) {
			srv := benchServer(b, b.TempDir(), tcp)
			nc := benchConnect(b, srv, tcp)
			var failed atomic.Int64
			js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(
				func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), benchWait)
			defer cancel()
			stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: "raw", Subjects: []string{"raw.0"}, Storage: jetstream.FileStorage,
				Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, Replicas: 1,
				AllowDirect: true, Duplicates: time.Hour, MaxMsgs: -1, MaxBytes: -1,
			})
			if err != nil {
				b.Fatal(err)
			}
			nonce := strconv.FormatUint(randomNonce(), 16) + ":0:"
			batches := 0
			send := func() {
				base := strconv.Itoa(batches*benchBatch) + ":"
				batches++
				for i, rec := range recs {
					m := &nats.Msg{Subject: "raw.0", Data: rec, Header: nats.Header{
						"Nats-Msg-Id": []string{nonce + base + strconv.Itoa(i)}}}
					if _, err := js.PublishMsgAsync(m); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(benchWait):
					b.Fatal("acks did not complete")
				}
			}
			send() // warm up like the core's first batch
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				send()
			}
			benchReportEvents(b, b.N*benchBatch)
			b.StopTimer()
			info, err := stream.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n := failed.Load(); n > 0 || info.State.Msgs != uint64(batches*benchBatch) {
				b.Fatalf("%d failed publishes, %d stored, want %d", n, info.State.Msgs, batches*benchBatch)
			}
		})
	}
}

// benchPollData is 100k events stored by the core on 16 shards (prefix p16) and
// 100k on 1 shard (prefix p1), in one embedded server.
type benchPollData struct {
	srv     *server.Server
	sets    []benchPollSet
	js      jetstream.JetStream
	nc      *nats.Conn
	loadDur time.Duration
}

type benchPollSet struct {
	name   string // sub-benchmark name
	bus    *Bus
	prefix string
	shards int
	counts []int // messages per shard stream
}

func benchPreload(b *testing.B) *benchPollData {
	b.Helper()
	start := time.Now()
	dir := b.TempDir()
	d := &benchPollData{}
	for _, shards := range []int{16, 1} {
		prefix := "p" + strconv.Itoa(shards)
		bus := benchOpen(b, benchEmbeddedConfig(dir, prefix, shards))
		for n := 0; n < benchPollTotal; n += benchBatch {
			benchMustPublish(b, bus, benchPublishRequest(benchEvents(benchBatch, n)), benchBatch)
		}
		d.sets = append(d.sets, benchPollSet{name: fmt.Sprintf("shards=%d", shards), bus: bus, prefix: prefix, shards: shards})
	}
	d.srv = benchEmbeddedServer(b, d.sets[0].bus)
	d.nc = benchConnect(b, d.srv, false)
	var err error
	if d.js, err = jetstream.New(d.nc); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	for i := range d.sets {
		s := &d.sets[i]
		total := 0
		for k := 0; k < s.shards; k++ {
			st, err := d.js.Stream(ctx, streamName(s.prefix, k))
			if err != nil {
				b.Fatal(err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if info.State.FirstSeq != 1 && info.State.Msgs > 0 {
				b.Fatalf("stream %s starts at %d", info.Config.Name, info.State.FirstSeq)
			}
			s.counts = append(s.counts, int(info.State.Msgs))
			total += int(info.State.Msgs)
		}
		if total != benchPollTotal {
			b.Fatalf("%s: %d events stored, want %d", s.name, total, benchPollTotal)
		}
	}
	d.loadDur = time.Since(start)
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

// BenchmarkPollPerMessageWalk is the net-mesh 0.23 way: one
// {"seq":S,"next_by_subj":…} direct get per message, shard after shard, over the
// same kind of data. One op reads benchWalkTotal events.
func BenchmarkPollPerMessageWalk(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			per := benchWalkTotal / s.shards
			body := make([]byte, 0, 96)
			for i := 0; i < b.N; i++ {
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
						m, err := d.nc.Request(api, body, benchWait)
						if err != nil {
							b.Fatal(err)
						}
						got++
						n, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
						if err != nil || len(m.Data) == 0 {
							b.Fatalf("direct get of %s seq %d: status %q", api, seq, m.Header.Get("Status"))
						}
						seq = n + 1
					}
				}
				if got != benchWalkTotal {
					b.Fatalf("walked %d events, want %d", got, benchWalkTotal)
				}
			}
			benchReportEvents(b, b.N*benchWalkTotal)
		})
	}
}

// BenchmarkPollOrderedConsumer: nats.go jetstream ordered consumers (one per
// shard stream, all at once) read every pre-loaded event per op.
func BenchmarkPollOrderedConsumer(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		b.Run(s.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*benchWait)
			defer cancel()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				var got atomic.Int64
				errs := make(chan error, s.shards)
				for k := 0; k < s.shards; k++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cons, err := d.js.OrderedConsumer(ctx, streamName(s.prefix, k), jetstream.OrderedConsumerConfig{
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
			benchReportEvents(b, b.N*benchPollTotal)
		})
	}
}

// BenchmarkParsePublish parses a publish request of 10 and of 1000 events:
// allocs/op must not grow with the number of events.
func BenchmarkParsePublish(b *testing.B) {
	bus := &Bus{cfg: DefaultConfig()}
	for _, n := range []int{10, benchBatch} {
		req := benchPublishRequest(benchEvents(n, 0))
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			for i := 0; i < b.N; i++ {
				r, err := bus.parsePublish(req)
				if err != nil || len(r.events) != n {
					b.Fatalf("parse: %d events, %v", len(r.events), err)
				}
			}
			benchReportEvents(b, b.N*n)
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
	var out []byte
	for i := 0; i < b.N; i++ {
		out = res.encode(pos)
	}
	benchReportEvents(b, b.N*res.events)
	if n := bytes.Count(out, benchEventMark); n != benchBatch {
		b.Fatalf("encoded %d events, want %d", n, benchBatch)
	}
}
