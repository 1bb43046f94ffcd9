package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// server is one nats-server process on a fixed loopback port and store dir. It
// can be killed and started again with the same arguments, or paused.
type server struct {
	name    string
	bin     string
	args    []string
	port    int
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has been reaped
	paused bool
}

// Every server ever started, so that all of them are killed on exit.
var registry struct {
	mu   sync.Mutex
	all  map[*server]bool
	dead bool // killAll ran: start nothing more
}

func (s *server) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// start runs the process; its output is appended to logPath.
func (s *server) start() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.dead {
		return errors.New("shutting down")
	}
	if registry.all == nil {
		registry.all = map[*server]bool{}
	}
	registry.all[s] = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("%s is already running", s.name)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If this program dies without cleaning up, the kernel kills the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done, s.paused = cmd, done, false
	return nil
}

// kill sends SIGKILL (a stopped process dies too) and reaps the process.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "soak: %s (pid %d) not reaped 10s after SIGKILL\n", s.name, s.cmd.Process.Pid)
	}
	s.cmd, s.paused = nil, false
}

func (s *server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("%s is not running", s.name)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return err
	}
	s.paused = sig == syscall.SIGSTOP
	return nil
}

// waitReady waits until the server accepts TCP connections on its port.
func (s *server) waitReady(timeout time.Duration) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting (log %s)", s.name, s.logPath)
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on port %d within %v (log %s)", s.name, s.port, timeout, s.logPath)
}

// killAll kills every server this program started and prevents new starts.
func killAll() {
	registry.mu.Lock()
	registry.dead = true
	all := make([]*server, 0, len(registry.all))
	for s := range registry.all {
		all = append(all, s)
	}
	registry.mu.Unlock()
	for _, s := range all {
		s.kill()
	}
}

// freePorts returns n distinct free loopback ports; all are held open until all
// are chosen, so the kernel cannot hand out one twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
