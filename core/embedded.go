//go:build !js

package core

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Buses in one process on the same store_dir share one embedded server, counted by
// reference. nats-server does not lock its store directory, so a second process
// would corrupt the files; an exclusive flock on <store_dir>/netmesh.lock stops it.

type embeddedServer struct {
	key  string
	cfg  embeddedKey
	srv  *server.Server
	lock *os.File
	tmp  string // store dir of a memory-only server, removed on release
	refs int

	started  chan struct{} // closed once start has ended; then err holds its outcome
	err      error
	fatalMsg atomic.Value // the server's last fatal message, for the error
}

// embeddedKey holds the settings that must agree between buses sharing a server.
type embeddedKey struct {
	Memory          bool
	Listen          string
	WSListen        string
	User, Pass, Tok string
}

var (
	embeddedMu sync.Mutex
	embedded   = map[string]*embeddedServer{}
)

// acquireEmbedded returns the store directory's server, starting it on first
// use. The start runs outside embeddedMu, so buses on other directories never
// wait behind it; buses on the same one wait for its outcome.
func acquireEmbedded(c *busConfig, log *logger) (*embeddedServer, error) {
	dir, err := storeKey(c.Embedded.StoreDir)
	if err != nil {
		return nil, err
	}
	want := embeddedKey{Memory: c.Embedded.Memory, Listen: c.Embedded.Listen, WSListen: c.Embedded.WSListen,
		User: c.Auth.User, Pass: c.Auth.Password, Tok: c.Auth.Token}

	embeddedMu.Lock()
	e := embedded[dir]
	if e == nil {
		e = &embeddedServer{key: dir, cfg: want, refs: 1, started: make(chan struct{})}
		embedded[dir] = e
		embeddedMu.Unlock()
		err := e.start(c, log)
		embeddedMu.Lock()
		e.err = err
		if err != nil {
			delete(embedded, dir)
		}
		close(e.started)
		embeddedMu.Unlock()
		return e, err
	}
	if e.cfg != want {
		embeddedMu.Unlock()
		return nil, NewError(CodeInvalidArgument,
			"embedded server on store_dir %q is already running with other settings (memory, listen, websocket or auth differ)", dir)
	}
	e.refs++
	embeddedMu.Unlock()
	<-e.started
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// storeKey is the store directory's absolute path, symlinks resolved when it
// exists, so two names of one directory share one server.
func storeKey(storeDir string) (string, error) {
	dir, err := filepath.Abs(storeDir)
	if err != nil {
		return "", wrapError(CodeInvalidArgument, err, "embedded.store_dir %q", storeDir)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir, nil
}

// start starts the server; on failure everything it made is released.
func (e *embeddedServer) start(c *busConfig, log *logger) (err error) {
	defer func() {
		if err != nil {
			e.cleanup()
		}
	}()
	storeDir, err := e.prepareStore()
	if err != nil {
		return err
	}
	if err := checkListenFree("embedded.listen", e.cfg.Listen); err != nil {
		return err
	}
	if err := checkListenFree("embedded.websocket.listen", e.cfg.WSListen); err != nil {
		return err
	}
	srv, err := server.NewServer(e.options(storeDir, c.LogLevel == "off"))
	if err != nil {
		return wrapError(CodeInvalidArgument, err, "embedded server")
	}
	srv.SetLoggerV2(fatalRecorder{log.serverLogger(), &e.fatalMsg}, log.level >= levelDebug, false, false)
	srv.Start()
	e.srv = srv
	boundResponseTracking(srv, c.RequestTimeout)
	if !srv.ReadyForConnections(c.ConnectTimeout) {
		why, _ := e.fatalMsg.Load().(string)
		if why == "" {
			why = "not ready within connect_timeout_ms"
		}
		return NewError(CodeConnection, "embedded server on %q did not start: %s", e.key, why)
	}
	return nil
}

// boundResponseTracking shortens how long the server tracks a JetStream API
// reply route from its default two minutes to the longest a caller waits: each
// route's timer holds the whole server, so without this every server shut down
// in the last two minutes stays in memory.
func boundResponseTracking(srv *server.Server, wait time.Duration) {
	if acc := srv.SystemAccount(); acc != nil {
		_ = acc.SetServiceExportResponseThreshold("$JS.API.>", max(wait+time.Second, 2*time.Second))
	}
}

// prepareStore makes the store directory and takes its lock; a memory server
// gets a temporary directory instead.
func (e *embeddedServer) prepareStore() (string, error) {
	var err error
	if e.cfg.Memory {
		if e.tmp, err = os.MkdirTemp("", "netmesh-mem-"); err != nil {
			return "", wrapError(CodeInternal, err, "embedded server temp dir")
		}
		return e.tmp, nil
	}
	if err = os.MkdirAll(e.key, 0o755); err != nil {
		return "", wrapError(CodeInvalidArgument, err, "embedded.store_dir %q", e.key)
	}
	if e.lock, err = lockDir(e.key); err != nil {
		return "", err
	}
	return e.key, nil
}

func (e *embeddedServer) options(storeDir string, noLog bool) *server.Options {
	k := e.cfg
	opts := &server.Options{
		ServerName: "netmesh-embedded",
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      noLog,
		DontListen: k.Listen == "",
		MaxPayload: server.MAX_PAYLOAD_SIZE,
		Username:   k.User, Password: k.Pass, Authorization: k.Tok,
	}
	if k.Listen != "" {
		host, port, _ := net.SplitHostPort(k.Listen)
		opts.Host = host
		opts.Port, _ = strconv.Atoi(port)
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	if k.WSListen != "" {
		// TLS, where wanted, is a proxy's job in front of a loopback
		// listener; one on another host needs auth (validate).
		host, port, _ := net.SplitHostPort(k.WSListen)
		opts.Websocket.Host, opts.Websocket.NoTLS = host, true
		opts.Websocket.Port, _ = strconv.Atoi(port)
		if opts.Websocket.Port == 0 {
			opts.Websocket.Port = server.RANDOM_PORT
		}
	}
	return opts
}

// checkListenFree fails at once on an address another socket holds; the
// server itself would only log it and never become ready.
func checkListenFree(field, listen string) error {
	if listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return wrapError(CodeConnection, err, "%s %s", field, listen)
	}
	return ln.Close()
}

// serverLogger adapts to nats-server's Logger, which calls Noticef for routine news.
func (l *logger) serverLogger() serverLog { return serverLog{l} }

type serverLog struct{ l *logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.logf(levelInfo, "server: ", format, v...) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.logf(levelWarn, "server: ", format, v...) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.logf(levelError, "server: ", format, v...) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.logf(levelError, "server: ", format, v...) }
func (s serverLog) Debugf(format string, v ...any)  { s.l.logf(levelDebug, "server: ", format, v...) }
func (s serverLog) Tracef(format string, v ...any)  {}

// fatalRecorder keeps the server's fatal messages (a listener that failed),
// which nats-server only logs when it runs without signals.
type fatalRecorder struct {
	serverLog
	last *atomic.Value
}

func (f fatalRecorder) Fatalf(format string, v ...any) {
	f.last.Store(fmt.Sprintf(format, v...))
	f.serverLog.Fatalf(format, v...)
}

// lockDir takes an exclusive, non-blocking flock; the kernel drops it if the process dies.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "netmesh.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, wrapError(CodeInvalidArgument, err, "embedded.store_dir lock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if pid := strings.TrimSpace(string(owner)); errors.Is(err, syscall.EWOULDBLOCK) && pid == strconv.Itoa(os.Getpid()) {
			return nil, NewError(CodeInvalidArgument,
				"embedded.store_dir %q is already open in this process under another path (a bind mount?); use one path for it", dir)
		}
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, NewError(CodeInvalidArgument,
				"embedded.store_dir %q is in use by another process (pid %s); point this one at that server with url, or use another store_dir",
				dir, strings.TrimSpace(string(owner)))
		}
		return nil, wrapError(CodeInvalidArgument, err, "embedded.store_dir lock")
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// clientURL is where other processes reach a listening embedded server.
func (e *embeddedServer) clientURL() string {
	if e.cfg.Listen == "" {
		return "embedded (in-process)"
	}
	return e.srv.ClientURL()
}

// websocketURL is where WebSocket clients reach the server; empty when it
// serves none.
func (e *embeddedServer) websocketURL() string {
	if e.cfg.WSListen == "" {
		return ""
	}
	return e.srv.WebsocketURL()
}

func (e *embeddedServer) release() {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	delete(embedded, e.key)
	e.cleanup()
}

func (e *embeddedServer) cleanup() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	if e.lock != nil {
		_ = syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
		e.lock.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}
