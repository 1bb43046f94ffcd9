// Package harness holds what the benchmark drivers under bench/ share: one
// nats-server process, the events file every participant reads, running a
// participant and reading its result, medians, and cleaning up streams.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a nats-server process with JetStream on file storage, listening on
// a free 127.0.0.1 port.
type Server struct {
	URL     string
	Version string
	cmd     *exec.Cmd
}

// StartServer runs bin with its store in dir (emptied first) and returns once
// JetStream answers.
func StartServer(bin, dir string) (*Server, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-js", "-sd", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), cmd: cmd}
	if err := s.waitReady(15 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s (log in %s): %w", bin, log.Name(), err)
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		nc, err := nats.Connect(s.URL, nats.Timeout(time.Second), nats.NoReconnect())
		if err == nil {
			s.Version = nc.ConnectedServerVersion()
			js, jerr := jetstream.New(nc)
			if jerr == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, jerr = js.AccountInfo(ctx)
				cancel()
			}
			nc.Close()
			if jerr == nil {
				return nil
			}
			err = jerr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop ends the server and waits for it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// RSSBytes reads VmRSS of the server from /proc.
func (s *Server) RSSBytes() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", s.Pid())
}

// DeleteStreams removes every stream whose name starts with prefix, so the
// server does not carry earlier runs' streams into later ones.
func (s *Server) DeleteStreams(prefix string) error {
	nc, err := nats.Connect(s.URL, nats.Timeout(5*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var names []string
	lister := js.StreamNames(ctx)
	for name := range lister.Name() {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if err := lister.Err(); err != nil {
		return err
	}
	// 32 deletes in flight: 1024 streams one by one take seconds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 32)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := js.DeleteStream(ctx, name); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("deleting stream %s: %w", name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// BinaryVersion asks a nats-server binary for its version ("v2.15.2").
func BinaryVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "unknown"
	}
	return f[len(f)-1]
}

// WriteEvents writes n distinct JSON events of exactly size bytes, one per
// line: every participant publishes these same bytes.
func WriteEvents(path string, n, size int) error {
	actions := []string{"click", "view", "purchase", "scroll", "login", "logout", "search"}
	var buf bytes.Buffer
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ev := fmt.Appendf(nil, `{"user":"u%d","action":"%s","seq":%d,"pad":"`, x%10000, actions[(x>>20)%7], i)
		for len(ev) < size-2 {
			ev = append(ev, 'a'+byte((x>>uint(len(ev)%58))%26))
		}
		buf.Write(ev)
		buf.WriteString("\"}\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Result is what every participant prints as its last line of output: how
// many events (or calls) it did in how many seconds, setup excluded.
type Result struct {
	Count   int64   `json:"count"`
	Seconds float64 `json:"seconds"`
	// Extra figures a participant may add (the shard sweep's).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Rate is Count per second.
func (r Result) Rate() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Count) / r.Seconds
}

// Run runs a participant with a time limit and reads its Result from the last
// line of its standard output; its standard error goes to ours.
func Run(limit time.Duration, env []string, name string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	what := strings.Join(append([]string{name}, args...), " ")
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w (output %q)", what, err, clip(out))
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	var r Result
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return Result{}, fmt.Errorf("%s: result %q: %w", what, clip(out), err)
	}
	return r, nil
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[len(b)-400:])
	}
	return string(b)
}

// Median of xs (the mean of the middle two for an even count).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Verdict is PASS when got reaches want, BELOW otherwise.
func Verdict(got, want float64) string {
	if got >= want {
		return "PASS"
	}
	return "BELOW"
}

// WriteJSON writes v indented to path, creating its directory.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
