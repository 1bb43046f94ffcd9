// Command pubraw asks whether publishing at 1024 shards is bound by the server
// or by netmesh (issue 13's goal: publish at 1024 shards >= 0.5x at 16). It
// publishes the same events (50k x 200 B, as make bench-shards) to streams
// created before the timing, with netmesh's settings (core/stream.go), on one
// nats-server process, in these modes:
//
//	netmesh          core.Bus.Publish, 1000-event requests (in Go, no C ABI)
//	netmesh-nobatch  the same on streams made without allow_batched (per message)
//	raw              nats.go jetstream PublishMsgAsync, Nats-Msg-Id, 1000 in
//	                 flight, every ack awaited per 1000, netmesh's records
//	core-uniq        plain PublishMsg, reply <inbox>.<index>, acks counted
//	core-shard       the same with reply <inbox>.<shard>
//
// and raw/core suffixes: -noid (no Nats-Msg-Id), -sorted (each 1000 sent in
// shard order), -nobatch (no allow_batched), -dd2m (2 minute dedup window),
// -nodirect (no allow_direct), -async (persist_mode async: not durable
// against a kill, for comparison only). Every (run, shard count, mode) gets
// fresh streams, deleted afterwards; runs go round shard counts and modes in
// turn, each run starting one mode later. Each line tells events/s and the
// CPU time per event of the server (with -pid, or when pubraw starts it) and
// of this process; then the medians and the last count's ratio to the first.
//
//	go run ./bench/pubraw -server build/tools/nats-server -shards 16,1024 -runs 3 -modes netmesh,raw,raw-noid
package main

import (
	"context"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/zeebo/xxh3"

	"github.com/netmesh/netmesh/bench/internal/harness"
	"github.com/netmesh/netmesh/core"
)

func main() {
	url := flag.String("url", "", "nats-server URL (else -server is started)")
	server := flag.String("server", "build/tools/nats-server", "nats-server binary, when -url is empty")
	data := flag.String("data", "build/bench/pubraw-data", "server store (emptied first)")
	shardList := flag.String("shards", "16,1024", "shard counts")
	modeList := flag.String("modes", "netmesh,raw,raw-noid", "modes, see the package comment")
	events := flag.Int("events", 50_000, "events per run")
	size := flag.Int("size", 200, "event bytes")
	per := flag.Int("batch", 1000, "events per request (netmesh) or per ack wait (raw)")
	runs := flag.Int("runs", 3, "runs (medians reported)")
	flag.IntVar(&serverPid, "pid", 0, "the server's pid, with -url (for its CPU time)")
	cpuprof := flag.String("cpuprofile", "", "write this process's CPU profile here")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pubraw:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*url, *server, *data, *shardList, *modeList, *events, *size, *per, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "pubraw:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(url, server, data, shardList, modeList string, events, size, per, runs int) error {
	file := filepath.Join(data, "events.ndjson")
	if err := harness.WriteEvents(file, events, size); err != nil {
		return err
	}
	evs, err := readLines(file)
	if err != nil {
		return err
	}
	var srv *harness.Server
	if url == "" {
		if srv, err = harness.StartServer(server, filepath.Join(data, "server")); err != nil {
			return err
		}
		defer srv.Stop()
		url, serverPid = srv.URL, srv.Pid()
	} else {
		srv = &harness.Server{URL: url}
	}
	// A stream that stays: the server removes an account's empty streams
	// directory after deleting its last stream, racing the next create.
	if err := keepStream(url); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(shardList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		counts = append(counts, n)
	}
	modes := strings.Split(modeList, ",")
	res := map[string][]float64{}
	for r := 0; r < runs; r++ {
		for _, n := range counts {
			for m := range modes {
				mode := modes[(m+r)%len(modes)]
				prefix := fmt.Sprintf("pr%d_%d_%s", r, n, strings.ReplaceAll(mode, "-", ""))
				var rate float64
				if strings.HasPrefix(mode, "netmesh") {
					rate, err = runNetmesh(url, prefix, n, evs, per, mode)
				} else {
					rate, err = runRaw(url, prefix, n, evs, per, mode)
				}
				if err != nil {
					return fmt.Errorf("%s at %d shards: %w", mode, n, err)
				}
				key := fmt.Sprintf("%s@%d", mode, n)
				res[key] = append(res[key], rate)
				la, _ := os.ReadFile("/proc/loadavg")
				fmt.Printf("run %d %5d shards %-18s %9.0f ev/s  server %5.1f µs/ev  client %5.1f µs/ev  load %s",
					r+1, n, mode, rate, lastServerCPU*1e6/float64(len(evs)), lastClientCPU*1e6/float64(len(evs)), la)
				res[key+"/srv"] = append(res[key+"/srv"], lastServerCPU*1e6/float64(len(evs)))
				if err := srv.DeleteStreams(prefix + "_"); err != nil {
					return err
				}
			}
		}
	}
	fmt.Println("medians:")
	for _, mode := range modes {
		first := harness.Median(res[fmt.Sprintf("%s@%d", mode, counts[0])])
		line := fmt.Sprintf("  %-18s", mode)
		for _, n := range counts {
			m := harness.Median(res[fmt.Sprintf("%s@%d", mode, n)])
			line += fmt.Sprintf("  %d: %8.0f ev/s (server %5.1f µs/ev)", n, m, harness.Median(res[fmt.Sprintf("%s@%d/srv", mode, n)]))
		}
		last := harness.Median(res[fmt.Sprintf("%s@%d", mode, counts[len(counts)-1])])
		fmt.Printf("%s  ratio %.2f\n", line, last/first)
	}
	return nil
}

func readLines(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out = append(out, []byte(l))
	}
	return out, nil
}

func runNetmesh(url, prefix string, shards int, evs [][]byte, per int, mode string) (float64, error) {
	if strings.Contains(mode, "-nobatch") { // streams without allow_batched: no fast batches
		nc, err := nats.Connect(url)
		if err != nil {
			return 0, err
		}
		js, _ := jetstream.New(nc)
		err = createStreams(context.Background(), js, prefix, shards, false, mode)
		nc.Close()
		if err != nil {
			return 0, err
		}
	}
	cfg := fmt.Sprintf(`{"url":%q,"prefix":%q,"shards":%d,"create_streams":"init"}`, url, prefix, shards)
	bus, err := core.Open([]byte(cfg))
	if err != nil {
		return 0, err
	}
	defer bus.Close()
	reqs := make([][]byte, 0, len(evs)/per+1)
	for from := 0; from < len(evs); from += per {
		to := min(from+per, len(evs))
		req := []byte(`{"events":[`)
		for i := from; i < to; i++ {
			if i > from {
				req = append(req, ',')
			}
			req = append(req, evs[i]...)
		}
		reqs = append(reqs, append(req, "]}"...))
	}
	start := startTiming()
	defer stopTiming()
	for _, req := range reqs {
		out, err := bus.Publish(req)
		if err != nil {
			return 0, err
		}
		if !strings.Contains(string(out), `"duplicates":0`) {
			return 0, fmt.Errorf("publish: %s", out)
		}
	}
	return float64(len(evs)) / time.Since(start).Seconds(), nil
}

// runRaw publishes with jetstream's PublishMsgAsync to streams made with
// netmesh's settings (core/stream.go: file storage, limits, allow_direct, 1 h
// dedup window, allow_batched on 2.14+), the records netmesh would store.
func runRaw(url, prefix string, shards int, evs [][]byte, per int, mode string) (float64, error) {
	withID := !strings.Contains(mode, "-noid")
	if strings.HasPrefix(mode, "core") {
		var err error
		if coreSub, err = newAckCounter(url); err != nil {
			return 0, err
		}
		defer coreSub.nc.Close()
	}
	sorted := strings.Contains(mode, "-sorted")
	batched := !strings.Contains(mode, "-nobatch")
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*per))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := createStreams(ctx, js, prefix, shards, batched, mode); err != nil {
		return 0, err
	}
	msgs := make([]out, len(evs))
	count := make([]int, shards)
	now := uint64(time.Now().UnixNano())
	for i, ev := range evs {
		k := shards - 1
		if shards > 1 {
			hi, _ := bits.Mul64(xxh3.Hash(ev), uint64(shards))
			k = int(hi)
		}
		rec := fmt.Appendf(nil, `{"r":%s,"t":%d,"s":%d}`, ev, now+uint64(i), k)
		m := &nats.Msg{Subject: fmt.Sprintf("%s.shard.%d", prefix, k), Data: rec, Header: nats.Header{}}
		if withID {
			m.Header.Set("Nats-Msg-Id", fmt.Sprintf("%x:%d:0:%d", now, k, count[k]))
		}
		count[k]++
		msgs[i] = out{k, m}
	}
	start := startTiming()
	defer stopTiming()
	for from := 0; from < len(msgs); from += per {
		chunk := msgs[from:min(from+per, len(msgs))]
		if sorted {
			sort.SliceStable(chunk, func(a, b int) bool { return chunk[a].shard < chunk[b].shard })
		}
		if strings.HasPrefix(mode, "core") {
			if err := sendCore(chunk, mode, from); err != nil {
				return 0, err
			}
			continue
		}
		futs := make([]jetstream.PubAckFuture, 0, len(chunk))
		for _, o := range chunk {
			f, err := js.PublishMsgAsync(o.msg)
			if err != nil {
				return 0, err
			}
			futs = append(futs, f)
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return 0, err
			}
		}
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

func createStreams(ctx context.Context, js jetstream.JetStream, prefix string, shards int, batched bool, mode string) error {
	dedup, persist, direct := time.Hour, jetstream.DefaultPersistMode, true
	if strings.Contains(mode, "-dd2m") {
		dedup = 2 * time.Minute
	}
	if strings.Contains(mode, "-async") { // not durable against a kill: for comparison only
		persist = jetstream.AsyncPersistMode
	}
	if strings.Contains(mode, "-nodirect") {
		direct = false
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 64)
	for k := 0; k < shards; k++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name:              fmt.Sprintf("%s_shard_%d", prefix, k),
				Subjects:          []string{fmt.Sprintf("%s.shard.%d", prefix, k)},
				Retention:         jetstream.LimitsPolicy,
				Storage:           jetstream.FileStorage,
				Replicas:          1,
				Discard:           jetstream.DiscardOld,
				AllowDirect:       direct,
				Duplicates:        dedup,
				PersistMode:       persist,
				MaxMsgs:           -1,
				MaxBytes:          -1,
				AllowBatchPublish: batched,
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

var (
	serverPid                    int
	lastServerCPU, lastClientCPU float64
	t0Server, t0Client           float64
)

// cpuOf is the user+system CPU seconds of process pid (0: none).
func cpuOf(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100 // USER_HZ
}

func startTiming() time.Time {
	t0Server, t0Client = cpuOf(serverPid), cpuOf(os.Getpid())
	return time.Now()
}

func stopTiming() {
	lastServerCPU, lastClientCPU = cpuOf(serverPid)-t0Server, cpuOf(os.Getpid())-t0Client
}

func keepStream(url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	_, err = js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{Name: "pubraw_keep", Subjects: []string{"pubraw.keep"}})
	return err
}

type out struct {
	shard int
	msg   *nats.Msg
}

// ackCounter counts PubAcks arriving on <inbox>.> of its own connection.
type ackCounter struct {
	nc    *nats.Conn
	inbox string
	got   chan error
}

var coreSub *ackCounter

func newAckCounter(url string) (*ackCounter, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	a := &ackCounter{nc: nc, inbox: nc.NewInbox(), got: make(chan error, 1<<16)}
	_, err = nc.Subscribe(a.inbox+".>", func(m *nats.Msg) {
		if strings.Contains(string(m.Data), `"error"`) || len(m.Data) == 0 {
			a.got <- fmt.Errorf("ack: %q", m.Data)
			return
		}
		a.got <- nil
	})
	return a, err
}

// sendCore publishes chunk with plain PublishMsg on the counter's connection,
// reply <inbox>.<index> (core-uniq) or <inbox>.<shard> (core-shard), and
// waits for as many acks.
func sendCore(chunk []out, mode string, from int) error {
	a := coreSub
	for i, o := range chunk {
		m := *o.msg
		if strings.Contains(mode, "core-shard") {
			m.Reply = a.inbox + "." + strconv.Itoa(o.shard)
		} else {
			m.Reply = a.inbox + "." + strconv.Itoa(from+i)
		}
		if err := a.nc.PublishMsg(&m); err != nil {
			return err
		}
	}
	for range chunk {
		select {
		case err := <-a.got:
			if err != nil {
				return err
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("acks missing")
		}
	}
	return nil
}
