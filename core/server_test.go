package core

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Tests against real nats-server processes: an old 2.9 server, and a server
// killed and restarted under a running publish. make test builds both binaries.

func serverBinary(t *testing.T, env string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		t.Skipf("%s not set (make test builds it)", env)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v", env, path, err)
	}
	return path
}

func freePort(t *testing.T) int {
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct free loopback ports: all are held open until
// all are chosen, so the kernel cannot hand out one twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// natsProc is a nats-server process with JetStream on a fixed port and store dir.
type natsProc struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func startNatsProc(t *testing.T, bin, dir string, port int) *natsProc {
	t.Helper()
	p := &natsProc{bin: bin, dir: dir, port: port}
	p.start(t)
	t.Cleanup(p.kill)
	return p
}

func (p *natsProc) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

func (p *natsProc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(p.port), "-sd", p.dir)
	p.cmd.Stdout, p.cmd.Stderr = nil, nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nats-server on port %d did not start", p.port)
}

func (p *natsProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_, _ = p.cmd.Process.Wait()
		p.cmd = nil
	}
}

type procPoll struct {
	Events []struct {
		ID    string          `json:"id"`
		Shard int             `json:"shard"`
		Raw   json.RawMessage `json:"raw"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

// procReadAll follows the cursor until has_more is false and returns raw events.
func procReadAll(t *testing.T, b *Bus, limit int) []string {
	t.Helper()
	out, err := readAllEvents(b, limit)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAllEvents(b *Bus, limit int) ([]string, error) {
	var out []string
	cursor := ""
	for i := 0; i < 10000; i++ {
		req := fmt.Sprintf(`{"limit":%d,"cursor":%q}`, limit, cursor)
		resp, err := b.Poll([]byte(req))
		if err != nil {
			return out, fmt.Errorf("poll: %w", err)
		}
		var p procPoll
		if err := json.Unmarshal(resp, &p); err != nil {
			return out, fmt.Errorf("poll response %s: %w", resp, err)
		}
		for _, e := range p.Events {
			out = append(out, string(e.Raw))
		}
		cursor = p.NextCursor
		if !p.HasMore {
			return out, nil
		}
	}
	return out, fmt.Errorf("cursor loop did not end")
}

func procEvents(from, n int) string {
	ev := make([]string, n)
	for i := range ev {
		ev[i] = fmt.Sprintf(`{"n":%d}`, from+i)
	}
	return `{"events":[` + strings.Join(ev, ",") + `]}`
}

func checkExactlyOnce(t *testing.T, got []string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf(`{"n":%d}`, i)
		if seen[k] != 1 {
			t.Fatalf("event %s read %d times (read %d events in all)", k, seen[k], len(got))
		}
	}
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
}

func TestOldServerFallsBackToNextBySubject(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER_OLD")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b, err := Open([]byte(fmt.Sprintf(`{"url":%q,"shards":4,"request_timeout_ms":3000}`, p.url())))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.js.version, "2.9.") || b.js.batchGet.Load() {
		t.Fatalf("server %s: batched reads %v, want a 2.9 server without them", b.js.version, b.js.batchGet.Load())
	}
	if _, err := b.Publish([]byte(procEvents(0, 300))); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, procReadAll(t, b, 7), 300)
}

// A batch reader that trusted a wrongly detected 2.11+ server would wait for an
// EOB a 2.9 server never sends; it must notice the missing Nats-Num-Pending.
func TestBatchReadOnOldServerDoesNotHang(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER_OLD")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b, err := Open([]byte(fmt.Sprintf(`{"url":%q,"shards":2,"request_timeout_ms":3000}`, p.url())))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Publish([]byte(procEvents(0, 50))); err != nil {
		t.Fatal(err)
	}
	b.js.batchGet.Store(true) // as if detection had been wrong
	start := time.Now()
	got := procReadAll(t, b, 100)
	if time.Since(start) > 2*time.Second {
		t.Fatalf("reading took %v: the reader waited for an EOB", time.Since(start))
	}
	if b.js.batchGet.Load() {
		t.Fatal("batched reads still on after a reply without Nats-Num-Pending")
	}
	checkExactlyOnce(t, got, 50)
}

// A publish running while the server is killed and restarted is retried with the
// same message ids: every event is stored exactly once.
func TestPublishSurvivesServerRestart(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b, err := Open([]byte(fmt.Sprintf(`{"url":%q,"shards":4}`, p.url())))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Publish([]byte(procEvents(0, 1000))); err != nil {
		t.Fatal(err)
	}

	p.kill()
	// While the server is down a poll fails as transient (retryable).
	if _, err := b.Poll([]byte(`{"timeout_ms":500}`)); CodeOf(err) != CodeTransient {
		t.Fatalf("poll with the server down: %v (code %v), want transient", err, CodeOf(err))
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Publish([]byte(`{"timeout_ms":30000,"batch_id":"restart-1",` + procEvents(1000, 2000)[1:]))
		done <- err
	}()
	time.Sleep(700 * time.Millisecond)
	p.start(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("publish across the restart: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("publish did not return")
	}
	checkExactlyOnce(t, procReadAll(t, b, 1000), 3000)
}

func TestUnreachableServerIsConnection(t *testing.T) {
	port := freePort(t)
	_, err := Open([]byte(fmt.Sprintf(`{"url":"nats://u:hunter2@127.0.0.1:%d","connect_timeout_ms":300}`, port)))
	if CodeOf(err) != CodeConnection {
		t.Fatalf("got %v (code %v), want connection", err, CodeOf(err))
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}
