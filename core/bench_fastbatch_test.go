package core

// Fast batch publishing against the per-message path (see BENCHMARKS.md):
//
//	go test ./core -run '^$' -bench 'PublishFastBatch' -benchtime 100x -count 3
//	NETMESH_BENCH_SERVER=build/tools/nats-server-v2.11.17 \
//	    go test ./core -run '^$' -bench 'PublishServerProc' -benchtime 100x -count 3
//
// One op is one 1000-event request of 200-byte events on each side, timed
// apart; both sides share one server, so they see the same machine load.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// benchPerMessageStreams creates prefix's shard streams as the core would but
// without allow_batched, as an older server or an operator leaves them: a bus
// on them publishes per message.
func benchPerMessageStreams(b *testing.B, nc *nats.Conn, prefix string, shards int, storage jetstream.StorageType) {
	b.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	for k := 0; k < shards; k++ {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: streamName(prefix, k), Subjects: []string{subjectName(prefix, k)},
			Storage: storage, Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
			Replicas: 1, AllowDirect: true, Duplicates: time.Hour, MaxMsgs: -1, MaxBytes: -1,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchFastPair times a bus that makes its own streams against one on streams
// without allow_batched, one request each per op.
func benchFastPair(b *testing.B, fast, perMsg *Bus, req []byte) {
	benchMustPublish(b, fast, req, benchBatch)
	benchMustPublish(b, perMsg, req, benchBatch)
	var df, dp time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		benchMustPublish(b, fast, req, benchBatch)
		t1 := time.Now()
		benchMustPublish(b, perMsg, req, benchBatch)
		df, dp = df+t1.Sub(t0), dp+time.Since(t1)
	}
	b.StopTimer()
	benchReportPair(b, "own-streams", df, "per-message", dp, b.N*benchBatch, b.N*benchBatch)
}

// BenchmarkPublishFastBatch: on the in-process nats-server of go.mod (2.15),
// the bus's own streams take fast batches; the other bus's streams, created
// without allow_batched, the per-message path.
func BenchmarkPublishFastBatch(b *testing.B) {
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	for _, v := range []struct {
		tcp, memory bool
	}{{false, false}, {true, false}, {false, true}} {
		for _, shards := range []int{16, 1} {
			storage, store := jetstream.FileStorage, "file"
			if v.memory {
				storage, store = jetstream.MemoryStorage, "memory"
			}
			b.Run(fmt.Sprintf("transport=%s/storage=%s/shards=%d", benchTransport(v.tcp), store, shards), func(b *testing.B) {
				dir := b.TempDir()
				var fast, perMsg *Bus
				if v.tcp {
					srv := benchServer(b, dir, true)
					benchPerMessageStreams(b, benchConnect(b, srv, true), "pm", shards, storage)
					fast = benchOpen(b, fmt.Sprintf(`{"url":%q,"prefix":"fb","shards":%d,"log_level":"error"}`, srv.ClientURL(), shards))
					perMsg = benchOpen(b, fmt.Sprintf(`{"url":%q,"prefix":"pm","shards":%d,"log_level":"error"}`, srv.ClientURL(), shards))
				} else {
					cfg := func(prefix string) string {
						return fmt.Sprintf(`{"embedded":{"store_dir":%q,"memory":%v},"prefix":%q,"shards":%d,"log_level":"error"}`,
							dir, v.memory, prefix, shards)
					}
					fast = benchOpen(b, cfg("fb"))
					benchPerMessageStreams(b, benchConnect(b, benchEmbeddedServer(b, fast), false), "pm", shards, storage)
					perMsg = benchOpen(b, cfg("pm")) // the same embedded server
				}
				benchFastPair(b, fast, perMsg, req)
			})
		}
	}
}

// BenchmarkPublishServerProc is BenchmarkPublishFastBatch over TCP loopback
// against the nats-server binary NETMESH_BENCH_SERVER, a process of its own
// (on a server before 2.14 both sides publish per message).
func BenchmarkPublishServerProc(b *testing.B) {
	bin := os.Getenv("NETMESH_BENCH_SERVER")
	if bin == "" {
		b.Skip("NETMESH_BENCH_SERVER not set")
	}
	req := benchPublishRequest(benchEvents(benchBatch, 0))
	for _, shards := range []int{16, 1} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			url := benchServerProc(b, bin)
			nc, err := nats.Connect(url)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			benchPerMessageStreams(b, nc, "pm", shards, jetstream.FileStorage)
			fast := benchOpen(b, fmt.Sprintf(`{"url":%q,"prefix":"fb","shards":%d,"log_level":"error"}`, url, shards))
			perMsg := benchOpen(b, fmt.Sprintf(`{"url":%q,"prefix":"pm","shards":%d,"log_level":"error"}`, url, shards))
			benchFastPair(b, fast, perMsg, req)
		})
	}
}

// benchServerProc starts bin with JetStream on a free loopback port and a
// temporary store, and stops it when the benchmark ends.
func benchServerProc(b *testing.B, bin string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", b.TempDir())
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr
		}
	}
	b.Fatalf("%s did not start on %s", bin, addr)
	return ""
}
