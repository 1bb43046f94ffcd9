package core

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The server matrix: every supported nats-server release, run as a real
// process. NETMESH_SERVER_MATRIX lists version=binary pairs (make test builds
// them from the module proxy); the versions in NETMESH_SERVER_MATRIX_FULL run
// every scenario, the others the compatibility subset.

type matrixServer struct {
	version, bin string
	full         bool
}

func matrixServers(t *testing.T) []matrixServer {
	list := os.Getenv("NETMESH_SERVER_MATRIX")
	if list == "" {
		t.Skip("NETMESH_SERVER_MATRIX not set (make test builds the servers)")
	}
	full := map[string]bool{}
	for _, v := range strings.Split(os.Getenv("NETMESH_SERVER_MATRIX_FULL"), ",") {
		full[strings.TrimSpace(v)] = true
	}
	var out []matrixServer
	for _, pair := range strings.Split(list, ",") {
		v, bin, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			t.Fatalf("NETMESH_SERVER_MATRIX entry %q is not version=binary", pair)
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("server %s: %v", v, err)
		}
		out = append(out, matrixServer{version: v, bin: bin, full: full[v]})
	}
	return out
}

type matrixScenario struct {
	name string
	full bool // only on the servers that run everything
	run  func(t *testing.T, url string)
}

var matrixScenarios = []matrixScenario{
	{"RoundTrip", false, matrixRoundTrip},
	{"BatchIDDedup", false, matrixDedup},
	{"CursorPaging", false, matrixCursors},
	{"LongPoll", false, matrixLongPoll},
	{"ConsumerGroup", false, matrixGroup},
	{"ConcurrentPublishersAndPollers", true, matrixConcurrent},
	{"CorruptRecords", true, matrixCorrupt},
}

func TestServerMatrix(t *testing.T) {
	for _, srv := range matrixServers(t) {
		t.Run(srv.version, func(t *testing.T) {
			p := startNatsProc(t, srv.bin, t.TempDir(), freePort(t))
			b := openBus(t, urlConfig(p.url(), ""))
			if want := strings.TrimPrefix(srv.version, "v"); b.js.version != want {
				t.Fatalf("server announced %s, want %s", b.js.version, want)
			}
			for _, sc := range matrixScenarios {
				if sc.full && !srv.full {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.run(t, p.url()) })
			}
			if srv.full {
				t.Run("Restart", func(t *testing.T) { matrixRestart(t, srv.bin) })
			}
		})
	}
}

// matrixBus opens a bus on url with a prefix of its own, so scenarios sharing
// a server never see each other's streams.
func matrixBus(t *testing.T, url, extra string) *Bus {
	name := t.Name()
	prefix := "m_" + name[strings.LastIndexByte(name, '/')+1:]
	return openBus(t, urlConfig(url, `,"prefix":`+jsonQuote(prefix)+extra))
}

func matrixRoundTrip(t *testing.T, url string) {
	b := matrixBus(t, url, `,"shards":8`)
	events := numberedEvents(0, 500)
	publishEvents(t, b, events, "")
	got, _ := pollAll(t, b, "", 7, "")
	checkRoundTrip(t, got, events, 8)
}

func matrixDedup(t *testing.T, url string) {
	b := matrixBus(t, url, `,"shards":4`)
	req := `{"batch_id":"m-1","events":` + eventsJSON(numberedEvents(0, 100)) + `}`
	if r := publish(t, b, req); r.Published != 100 || r.Duplicates != 0 {
		t.Fatalf("first publish: %+v", r)
	}
	if r := publish(t, b, req); r.Published != 0 || r.Duplicates != 100 {
		t.Fatalf("the same batch again: %+v, want 100 duplicates", r)
	}
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 100)
}

func matrixCursors(t *testing.T, url string) {
	b := matrixBus(t, url, `,"shards":4`)
	publishEvents(t, b, numberedEvents(0, 40), "")
	first := poll(t, b, pollReq(15, "", ""))
	if len(first.Events) != 15 || !first.HasMore {
		t.Fatalf("first page: %d events, has_more %v", len(first.Events), first.HasMore)
	}
	rest, end := pollAll(t, b, first.NextCursor, 10, "")
	checkExactlyOnce(t, append(first.Events, rest...), 40)
	publishEvents(t, b, numberedEvents(40, 5), "")
	more, _ := pollAll(t, b, end, 10, "")
	if len(more) != 5 {
		t.Fatalf("after the end cursor: %d events, want the 5 new ones", len(more))
	}
	if latest := poll(t, b, pollReq(100, "", `,"start":"latest"`)); len(latest.Events) != 0 {
		t.Fatalf("start latest returned %d old events", len(latest.Events))
	}
}

// A long poll on a bus without streams answers empty when wait_ms ends, and
// one waiting for an event returns as soon as it is stored.
func matrixLongPoll(t *testing.T, url string) {
	b := matrixBus(t, url, `,"shards":4`)
	start := time.Now()
	r := poll(t, b, `{"wait_ms":800,"timeout_ms":5000}`)
	if took := time.Since(start); len(r.Events) != 0 || took < 800*time.Millisecond || took > 3*time.Second {
		t.Fatalf("empty long poll: %d events after %v, want none after about 800ms", len(r.Events), took)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = b.Publish([]byte(`{"events":[{"late":1}]}`))
	}()
	start = time.Now()
	r = poll(t, b, pollReq(10, r.NextCursor, `,"wait_ms":10000`))
	if took := time.Since(start); len(r.Events) != 1 || took > 900*time.Millisecond {
		t.Fatalf("woken long poll: %d events after %v, want 1 soon after 300ms", len(r.Events), took)
	}
}

// Eight publishers and two pollers at once: each poller reads every event once.
func matrixConcurrent(t *testing.T, url string) {
	const publishers, batches, perBatch = 8, 10, 50
	b := matrixBus(t, url, `,"shards":16`)
	var pubs, readers sync.WaitGroup
	for p := 0; p < publishers; p++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for j := 0; j < batches; j++ {
				if _, err := b.Publish([]byte(`{"events":` + eventsJSON(numberedEvents((p*batches+j)*perBatch, perBatch)) + `}`)); err != nil {
					t.Errorf("publisher %d: %v", p, err)
					return
				}
			}
		}()
	}
	finished := make(chan struct{}) // closed once every publish was acknowledged
	go func() { pubs.Wait(); close(finished) }()
	got := make([][]eventJSON, 2)
	for r := range got {
		readers.Add(1)
		go func() {
			defer readers.Done()
			cursor := ""
			for {
				last := false
				select {
				case <-finished:
					last = true
				default:
				}
				evs, next, err := pollAllErr(b, cursor, 200, `,"wait_ms":100`)
				if err != nil {
					t.Errorf("poller %d: %v", r, err)
					return
				}
				got[r], cursor = append(got[r], evs...), next
				if last {
					return
				}
			}
		}()
	}
	readers.Wait()
	for r := range got {
		checkExactlyOnce(t, got[r], publishers*batches*perBatch)
	}
}

// A corrupt record stops a poll with fatal naming it; skip_corrupt passes it.
func matrixCorrupt(t *testing.T, url string) {
	b := matrixBus(t, url, `,"shards":1`)
	publishEvents(t, b, []string{`"before"`}, "")
	js := rawJSAt(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, b.js.subjects[0], []byte(`{"r":null,"t":1,"s":0}`)); err != nil {
		t.Fatal(err)
	}
	publishEvents(t, b, []string{`"after"`}, "")
	first := poll(t, b, `{"limit":10}`)
	if len(first.Events) != 1 {
		t.Fatalf("poll up to the corrupt record: %d events, want 1", len(first.Events))
	}
	_, err := b.Poll([]byte(pollReq(10, first.NextCursor, "")))
	wantCode(t, err, CodeFatal, "corrupt")
	r := poll(t, b, pollReq(10, first.NextCursor, `,"skip_corrupt":true`))
	if len(r.Events) != 1 || r.Skipped != 1 || string(r.Events[0].Raw) != `"after"` {
		t.Fatalf("skip_corrupt: %+v", r)
	}
}

// A publish running while the server is killed and restarted stores every
// event exactly once.
func matrixRestart(t *testing.T, bin string) {
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":4`))
	publishEvents(t, b, numberedEvents(0, 500), "")
	p.kill()
	publishAcrossRestart(t, p, b, 500, 500)
	got, _ := pollAll(t, b, "", 300, "")
	checkExactlyOnce(t, got, 1000)
}

// Two members share a group's shards, commit, and the group resumes from the
// committed positions after both leave.
func matrixGroup(t *testing.T, url string) {
	a := matrixBus(t, url, `,"shards":4`)
	b := matrixBus(t, url, `,"shards":4`)
	publishEvents(t, a, numberedEvents(0, 400), "")
	var got []eventJSON
	var ra, rb groupResp
	for i := 0; i < 40 && (len(ra.Assigned) != 2 || len(rb.Assigned) != 2); i++ {
		ra = groupPoll(t, a, `{"group":"mx","member":"a","limit":10}`)
		rb = groupPoll(t, b, `{"group":"mx","member":"b","limit":10}`)
		got = append(append(got, ra.Events...), rb.Events...)
		commit(t, a, "mx", ra.NextCursor)
		commit(t, b, "mx", rb.NextCursor)
	}
	if len(ra.Assigned) != 2 || len(rb.Assigned) != 2 {
		t.Fatalf("assigned a %v, b %v: want 2 each", ra.Assigned, rb.Assigned)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	c := matrixBus(t, url, `,"shards":4`)
	for i := 0; i < 100; i++ {
		r := groupPoll(t, c, `{"group":"mx","limit":100,"auto_commit":true}`)
		got = append(got, r.Events...)
		if len(r.Events) == 0 && !r.HasMore {
			break
		}
	}
	checkExactlyOnce(t, got, 400)
}
