package core

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Faults of the server and of the machine: a stalled server, a busy port, a
// server without JetStream, a symlinked store directory.

// stop and cont pause and resume a nats-server process (SIGSTOP, SIGCONT): a
// server that holds its connections but reads nothing.
func (p *natsProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cont() })
}

func (p *natsProc) cont() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// within fails unless fn returns within limit; it returns what fn took.
func within(t *testing.T, what string, limit time.Duration, fn func()) time.Duration {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("%s did not return within %v", what, limit)
		return 0
	}
}

// Against a server that reads nothing, every call ends at its deadline plus a
// small margin whatever its size, and stats does not wait at all.
func TestDeadlinesHoldAgainstStalledServer(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER")
	p := startNatsProc(t, bin, t.TempDir(), freePort(t))
	b := openBus(t, urlConfig(p.url(), `,"shards":2,"max_request_bytes":268435456`))
	publishEvents(t, b, []string{`"warm"`}, `,"shard":0`)
	publishEvents(t, b, []string{`"warm"`}, `,"shard":1`)
	p.stop(t)

	// 15 MB: far more than the socket buffers hold, so nats.go blocks writing.
	big := `{"timeout_ms":2000,"events":[` + strings.Repeat(`"`+strings.Repeat("x", 100_000)+`",`, 150) + `1]}`
	var pubErr error
	took := within(t, "a 15 MB publish with timeout_ms 2000", 6*time.Second, func() {
		_, pubErr = b.Publish([]byte(big))
	})
	if CodeOf(pubErr) != CodeTransient || took < 2*time.Second || took > 3*time.Second {
		t.Fatalf("publish: %v (code %v) after %v; want transient after about 2s", pubErr, CodeOf(pubErr), took)
	}
	var stats []byte
	took = within(t, "stats", 2*time.Second, func() { stats, _ = b.Stats() })
	if took > 200*time.Millisecond || !bytes.Contains(stats, []byte(`"published":2`)) {
		t.Fatalf("stats took %v: %s", took, stats)
	}
	var pollErr error
	took = within(t, "a poll with timeout_ms 1000 and wait_ms 500", 5*time.Second, func() {
		_, pollErr = b.Poll([]byte(`{"timeout_ms":1000,"wait_ms":500}`))
	})
	if CodeOf(pollErr) != CodeTransient || took > 2500*time.Millisecond {
		t.Fatalf("poll: %v (code %v) after %v; want transient within about 1.5s", pollErr, CodeOf(pollErr), took)
	}
	took = within(t, "a small publish", 5*time.Second, func() {
		_, pubErr = b.Publish([]byte(`{"timeout_ms":1000,"events":[1]}`))
	})
	if CodeOf(pubErr) != CodeTransient || took > 2*time.Second {
		t.Fatalf("small publish: %v (code %v) after %v", pubErr, CodeOf(pubErr), took)
	}
}

// A listen address in use fails mesh_init at once, and does not hold up buses
// on other store directories.
func TestEmbeddedListenOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := tryOpen(t, storeConfig(t.TempDir(), `,"listen":`+jsonQuote(busy), `,"connect_timeout_ms":20000`))
		done <- err
	}()
	// Meanwhile another bus on another store directory opens at once.
	other := within(t, "another embedded bus", 5*time.Second, func() { openMem(t, "") })
	err = <-done
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("mesh_init on a busy port took %v", took)
	}
	wantCode(t, err, CodeConnection, busy)
	if other > 3*time.Second {
		t.Fatalf("another bus waited %v", other)
	}
}

// A server without JetStream is refused at init with connection: its
// publishes would only ever answer "no responders", which reads as retryable.
func TestServerWithoutJetStreamIsConnection(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER")
	port := freePort(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	waitPort(t, port)
	_, err := tryOpen(t, urlConfig(fmt.Sprintf("nats://127.0.0.1:%d", port), ""))
	wantCode(t, err, CodeConnection, "JetStream is not enabled")
}

func waitPort(t *testing.T, port int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on port %d", port)
}

// Two names of one store directory share its server in one process.
func TestSymlinkedStoreDirSharesTheServer(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	b1 := openBus(t, fileConfig(dir, ""))
	b2, err := tryOpen(t, fileConfig(link, ""))
	if err != nil {
		t.Fatalf("the same store_dir through a symlink: %v", err)
	}
	if b1.js.embedded != b2.js.embedded {
		t.Fatal("two servers on one store directory")
	}
}

// Only the four JSON whitespace bytes may surround a request.
func TestNonJSONWhitespaceRefused(t *testing.T) {
	b := openMem(t, "")
	for _, ws := range []string{"\v", "\f", "\u00a0", "\u2028"} {
		for _, req := range []string{ws + `{}`, `{}` + ws} {
			_, err := b.Poll([]byte(req))
			wantCode(t, err, CodeInvalidArgument)
			_, err = b.Publish([]byte(strings.Replace(req, "{}", `{"events":[]}`, 1)))
			wantCode(t, err, CodeInvalidArgument)
			_, err = parseConfig([]byte(req))
			wantCode(t, err, CodeInvalidArgument)
		}
	}
	if _, err := b.Poll([]byte(" \t\r\n{}\n")); err != nil {
		t.Fatalf("JSON whitespace refused: %v", err)
	}
}
