package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// netmeshBinary is the real command: NETMESH_CLI (make cli-test passes
// build/netmesh), or one built here, without cgo.
func netmeshBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NETMESH_CLI")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "netmesh")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m %s: %v\n%s", bin, err, out)
	}
	if !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Fatalf("%s was built with cgo:\n%s", bin, out)
	}
	return bin
}

type procResult struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, bin, stdin string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return procResult{code, out.String(), errb.String()}
}

// follower is a `netmesh tail --follow` process whose lines are collected.
type follower struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr strings.Builder
	done   chan struct{}
}

func startFollower(t *testing.T, bin string, args ...string) *follower {
	t.Helper()
	f := &follower{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	f.cmd.Stderr = &lockedWriter{mu: &f.mu, w: &f.stderr}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.cmd.Process.Kill(); <-f.done })
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.mu.Lock()
			f.lines = append(f.lines, sc.Text())
			f.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return f
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lines)
}

func (f *follower) output() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := strings.Join(f.lines, "\n")
	if out != "" {
		out += "\n"
	}
	return out, f.stderr.String()
}

// stop sends sig and returns the exit status.
func (f *follower) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := f.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("netmesh did not stop on %v", sig)
	}
	err := f.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestBinary(t *testing.T) {
	bin := netmeshBinary(t)

	if r := runBinary(t, bin, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "netmesh ") {
		t.Fatalf("version: %+v", r)
	}
	if r := runBinary(t, bin, "", "pub", "--nope"); r.code != 64 || !strings.Contains(r.stderr, "flag provided but not defined: -nope") {
		t.Fatalf("unknown flag: %+v", r)
	}
	if r := runBinary(t, bin, "", "pub", "{"); r.code != 64 || r.stdout != "" {
		t.Fatalf("bad event: %+v", r)
	}

	// The embedded server, one process after the other on one store.
	store := []string{"--store-dir", filepath.Join(t.TempDir(), "store"), "--shards", "3"}
	r := runBinary(t, bin, numbered(0, 1000), args(store, "pub", "--batch-id", "bin")...)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "published 1000, duplicates 0") {
		t.Fatalf("pub: %+v", r)
	}
	r = runBinary(t, bin, "", args(store, "tail")...)
	if r.code != 0 {
		t.Fatalf("tail: %+v", r)
	}
	checkNumbered(t, events(t, r.stdout), 0, 1000)

	// A real server: a follow in one process sees what another publishes
	// after it started, and SIGINT / SIGTERM end it with exit 0.
	if os.Getenv("NETMESH_NATS_SERVER") == "" {
		t.Skip("NETMESH_NATS_SERVER not set: no follow test (make cli-test builds the server)")
	}
	url, _ := natsServer(t)
	common := []string{"--url", url, "--shards", "4"}
	f := startFollower(t, bin, args(common, "tail", "--follow")...)
	g := startFollower(t, bin, args(common, "tail", "--group", "bin", "--follow")...)
	if r := runBinary(t, bin, numbered(0, 1000), args(common, "pub")...); r.code != 0 {
		t.Fatalf("pub: %+v", r)
	}
	waitFor(t, 20*time.Second, "1000 events in both followers", func() bool { return f.count() == 1000 && g.count() == 1000 })
	if r := runBinary(t, bin, "", args(common, "pub", `{"n":1000}`)...); r.code != 0 {
		t.Fatalf("pub: %+v", r)
	}
	waitFor(t, 10*time.Second, "the 1001st event", func() bool { return f.count() == 1001 && g.count() == 1001 })

	if code := f.stop(t, os.Interrupt); code != 0 {
		_, stderr := f.output()
		t.Fatalf("SIGINT: exit %d: %s", code, stderr)
	}
	out, stderr := f.output()
	checkNumbered(t, events(t, out), 0, 1001)
	cursor := resumeCursor(t, stderr)

	if code := g.stop(t, syscall.SIGTERM); code != 0 {
		_, stderr := g.output()
		t.Fatalf("SIGTERM: exit %d: %s", code, stderr)
	}
	out, _ = g.output()
	checkNumbered(t, events(t, out), 0, 1001)

	// The cursor and the group's commits both resume after everything.
	runBinary(t, bin, "", args(common, "pub", `{"n":1001}`)...)
	r = runBinary(t, bin, "", args(common, "tail", "--from", cursor)...)
	if r.code != 0 {
		t.Fatalf("resume: %+v", r)
	}
	checkNumbered(t, events(t, r.stdout), 1001, 1002)
	r = runBinary(t, bin, "", args(common, "tail", "--group", "bin")...)
	if r.code != 0 {
		t.Fatalf("group resume: %+v", r)
	}
	checkNumbered(t, events(t, r.stdout), 1001, 1002)
}
