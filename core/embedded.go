package core

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
}

// embeddedKey holds the settings that must agree between buses sharing a server.
type embeddedKey struct {
	Memory          bool
	Listen          string
	User, Pass, Tok string
}

var (
	embeddedMu sync.Mutex
	embedded   = map[string]*embeddedServer{}
)

func acquireEmbedded(c *busConfig, log *logger) (*embeddedServer, error) {
	dir, err := filepath.Abs(c.Embedded.StoreDir)
	if err != nil {
		return nil, wrapError(CodeInvalidArgument, err, "embedded.store_dir %q", c.Embedded.StoreDir)
	}
	want := embeddedKey{Memory: c.Embedded.Memory, Listen: c.Embedded.Listen,
		User: c.Auth.User, Pass: c.Auth.Password, Tok: c.Auth.Token}

	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	if e := embedded[dir]; e != nil {
		if e.cfg != want {
			return nil, NewError(CodeInvalidArgument,
				"embedded server on store_dir %q is already running with other settings (memory, listen or auth differ)", dir)
		}
		e.refs++
		return e, nil
	}
	e, err := startEmbedded(dir, want, c, log)
	if err != nil {
		return nil, err
	}
	embedded[dir] = e
	return e, nil
}

func startEmbedded(dir string, k embeddedKey, c *busConfig, log *logger) (e *embeddedServer, err error) {
	e = &embeddedServer{key: dir, cfg: k, refs: 1}
	started := e // the error returns below set e to nil
	defer func() {
		if err != nil {
			started.cleanup()
		}
	}()
	storeDir := dir
	if k.Memory {
		if e.tmp, err = os.MkdirTemp("", "netmesh-mem-"); err != nil {
			return nil, wrapError(CodeInternal, err, "embedded server temp dir")
		}
		storeDir = e.tmp
	} else {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return nil, wrapError(CodeInvalidArgument, err, "embedded.store_dir %q", dir)
		}
		if e.lock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	opts := &server.Options{
		ServerName: "netmesh-embedded",
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      c.LogLevel == "off",
		DontListen: k.Listen == "",
		MaxPayload: server.MAX_PAYLOAD_SIZE,
	}
	if k.Listen != "" {
		host, port, _ := net.SplitHostPort(k.Listen)
		opts.Host = host
		opts.Port, _ = strconv.Atoi(port)
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	opts.Username, opts.Password, opts.Authorization = k.User, k.Pass, k.Tok
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, wrapError(CodeInvalidArgument, err, "embedded server")
	}
	srv.SetLoggerV2(log.serverLogger(), log.level >= levelDebug, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, NewError(CodeConnection, "embedded server on %q did not start (is listen %q free?)", dir, k.Listen)
	}
	e.srv = srv
	return e, nil
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
