package core

import (
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

func TestOldServerFallsBackToNextBySubject(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER_OLD")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":4,"request_timeout_ms":3000`))
	if !strings.HasPrefix(b.js.version, "2.9.") || b.js.batchGet.Load() {
		t.Fatalf("server %s: batched reads %v, want a 2.9 server without them", b.js.version, b.js.batchGet.Load())
	}
	publishEvents(t, b, numberedEvents(0, 300), "")
	got, _ := pollAll(t, b, "", 7, "")
	checkExactlyOnce(t, got, 300)
}

// A batch reader that trusted a wrongly detected 2.11+ server would wait for an
// EOB a 2.9 server never sends; it must notice the missing Nats-Num-Pending.
func TestBatchReadOnOldServerDoesNotHang(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER_OLD")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":2,"request_timeout_ms":3000`))
	publishEvents(t, b, numberedEvents(0, 50), "")
	b.js.batchGet.Store(true) // as if detection had been wrong
	start := time.Now()
	got, _ := pollAll(t, b, "", 100, "")
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
	b := openBus(t, urlConfig(p.url(), `,"shards":4`))
	publishEvents(t, b, numberedEvents(0, 1000), "")

	p.kill()
	// While the server is down a poll fails as transient (retryable).
	if _, err := b.Poll([]byte(`{"timeout_ms":500}`)); CodeOf(err) != CodeTransient {
		t.Fatalf("poll with the server down: %v (code %v), want transient", err, CodeOf(err))
	}
	publishAcrossRestart(t, p, b, 1000, 2000)
	got, _ := pollAll(t, b, "", 1000, "")
	checkExactlyOnce(t, got, 3000)
}

// publishAcrossRestart publishes n numbered events from from, with a batch_id,
// while the stopped server p starts again; the publish must succeed.
func publishAcrossRestart(t *testing.T, p *natsProc, b *Bus, from, n int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := b.Publish([]byte(`{"timeout_ms":30000,"batch_id":"restart","events":` + eventsJSON(numberedEvents(from, n)) + `}`))
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
}

func TestUnreachableServerIsConnection(t *testing.T) {
	port := freePort(t)
	_, err := tryOpen(t, urlConfig(fmt.Sprintf("nats://u:hunter2@127.0.0.1:%d", port), `,"connect_timeout_ms":300`))
	if CodeOf(err) != CodeConnection {
		t.Fatalf("got %v (code %v), want connection", err, CodeOf(err))
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}
