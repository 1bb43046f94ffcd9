// Command gopeer is the Go side of the peers benchmark (bench/peers): plain
// nats.go publishing and reading as a user of that client would, and the core
// (core.Bus.Poll) polling at the end of a bus, for the C/Go ratio. Setup is
// not timed. The last line printed is {"count":N,"seconds":S}.
//
//	gopeer pub       URL STREAM EVENTS_FILE   PublishAsync per event (4000 in flight), then PublishAsyncComplete
//	gopeer directget URL STREAM N             Stream.GetMsg (a direct get) for sequences 1..N
//	gopeer ordered   URL STREAM N             an ordered consumer, Fetch(1000) until N are read
//	gopeer emptypoll URL PREFIX SHARDS SECONDS
//	                 core.Bus.Poll with the cursor at the end, as mesh_peer emptypoll
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/netmesh/netmesh/core"
)

const limit = 5 * time.Minute

func main() {
	if len(os.Args) < 5 {
		fail(errors.New("usage: gopeer pub|directget|ordered URL STREAM ARG, or gopeer emptypoll URL PREFIX SHARDS SECONDS"))
	}
	mode, url, name, arg := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	var count int64
	var secs float64
	var err error
	switch mode {
	case "pub":
		count, secs, err = publish(url, name, arg)
	case "directget":
		count, secs, err = directGet(url, name, atoi(arg))
	case "ordered":
		count, secs, err = ordered(url, name, atoi(arg))
	case "emptypoll":
		if len(os.Args) != 6 {
			fail(errors.New("usage: gopeer emptypoll URL PREFIX SHARDS SECONDS"))
		}
		var s float64
		if s, err = strconv.ParseFloat(os.Args[5], 64); err == nil {
			count, secs, err = emptyPoll(url, name, atoi(arg), s)
		}
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fail(err)
	}
	fmt.Printf("{\"count\":%d,\"seconds\":%.6f}\n", count, secs)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err)
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gopeer:", err)
	os.Exit(1)
}

func connect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func publish(url, stream, path string) (int64, float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	events := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	nc, js, err := connect(url)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	subject := stream + ".x"
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject},
		Storage: jetstream.FileStorage, AllowDirect: true})
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for _, ev := range events {
		// A full window (4000, the default) waits for room: the default
		// stall wait of 200 ms fails publishes on a busy machine.
		if _, err := js.PublishAsync(subject, ev, jetstream.WithStallWait(time.Minute)); err != nil {
			return 0, 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, 0, errors.New("acks did not complete")
	}
	secs := time.Since(start).Seconds()
	info, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, 0, err
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(len(events)) {
		return 0, 0, fmt.Errorf("stream holds %d messages, want %d", got, len(events))
	}
	return int64(len(events)), secs, nil
}

func directGet(url, stream string, n int) (int64, float64, error) {
	nc, js, err := connect(url)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, 0, err
	}
	if !s.CachedInfo().Config.AllowDirect {
		return 0, 0, fmt.Errorf("stream %s does not allow direct gets", stream)
	}
	start := time.Now()
	for seq := 1; seq <= n; seq++ {
		m, err := s.GetMsg(ctx, uint64(seq))
		if err != nil {
			return 0, 0, fmt.Errorf("GetMsg %d: %w", seq, err)
		}
		if len(m.Data) == 0 {
			return 0, 0, fmt.Errorf("GetMsg %d: empty", seq)
		}
	}
	return int64(n), time.Since(start).Seconds(), nil
}

func ordered(url, stream string, n int) (int64, float64, error) {
	nc, js, err := connect(url)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, 0, err
	}
	got := 0
	for got < n {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(30*time.Second))
		if err != nil {
			return 0, 0, err
		}
		for range batch.Messages() {
			got++
		}
		if err := batch.Error(); err != nil {
			return 0, 0, err
		}
	}
	return int64(got), time.Since(start).Seconds(), nil
}

func emptyPoll(url, prefix string, shards int, seconds float64) (int64, float64, error) {
	cfg, _ := json.Marshal(map[string]any{"url": url, "prefix": prefix, "shards": shards, "log_level": "error"})
	bus, err := core.Open(cfg)
	if err != nil {
		return 0, 0, err
	}
	defer bus.Close()
	for k := 0; k < shards; k++ {
		if _, err := bus.Publish(fmt.Appendf(nil, `{"events":[%d],"shard":%d}`, k, k)); err != nil {
			return 0, 0, err
		}
	}
	out, err := bus.Poll([]byte(`{"limit":10000}`))
	if err != nil {
		return 0, 0, err
	}
	var resp struct {
		Events     []json.RawMessage `json:"events"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, 0, err
	}
	if len(resp.Events) != shards {
		return 0, 0, fmt.Errorf("setup read %d events, want %d", len(resp.Events), shards)
	}
	req := []byte(`{"cursor":"` + resp.NextCursor + `"}`)
	empty := []byte(`"events":[]`)
	var calls int64
	start := time.Now()
	for time.Since(start).Seconds() < seconds {
		for i := 0; i < 50; i++ {
			out, err := bus.Poll(req)
			if err != nil {
				return 0, 0, err
			}
			if !bytes.Contains(out, empty) {
				return 0, 0, fmt.Errorf("empty poll found events: %.200s", out)
			}
			calls++
		}
	}
	return calls, time.Since(start).Seconds(), nil
}
