package core

import (
	"context"
	"sync"
	"time"
)

// Version is the library version; ABIVersion is NETMESH_ABI_VERSION.
const (
	Version    = "0.3.0"
	ABIVersion = 1
)

// Bus is one handle: a connection, its streams and its counters. Every method is
// safe for concurrent use.
type Bus struct {
	cfg     busConfig
	log     *logger
	js      *adapter
	clock   *shardClock
	groups  *groupSet
	cursors cursorCache
	all     []int // 0..shards-1, what a poll of every shard considers; never written

	mu     sync.Mutex
	closed bool
	active int
	idle   chan struct{}   // closed when active drops to 0 after close
	ctx    context.Context // cancelled by Close, so waits end at once
	cancel context.CancelFunc

	stats counters
}

// Open parses the config JSON, connects (or starts the embedded server) and
// returns a ready bus.
func Open(config []byte) (*Bus, error) { return open(config, nil) }

// open is Open, over t when t is not nil (OpenTransport).
func open(config []byte, t Transport) (*Bus, error) {
	cfg, err := parseConfig(config)
	if err != nil {
		return nil, err
	}
	if t != nil {
		if err := cfg.checkTransport(); err != nil {
			return nil, err
		}
		cfg.transport = t
	}
	b := &Bus{
		cfg:   cfg,
		log:   newLogger(cfg.LogLevel, func(s string) string { return redactError(s, &cfg) }),
		clock: newShardClock(cfg.Shards),
		all:   make([]int, cfg.Shards),
	}
	for k := range b.all {
		b.all[k] = k
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.js = newAdapter(&b.cfg, b.log)
	b.groups = newGroupSet(b)
	if err := b.js.connect(); err != nil {
		b.cancel()
		// The client and the server may quote what they were given (a
		// file path, a URL): the message is redacted once, here.
		return nil, &meshError{Code: CodeOf(err), Msg: b.log.redact(err.Error())}
	}
	return b, nil
}

// enter admits a call unless the bus is closing.
func (b *Bus) enter() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errShutdown
	}
	b.active++
	return nil
}

func (b *Bus) exit() {
	b.mu.Lock()
	b.active--
	if b.active == 0 && b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
	b.mu.Unlock()
}

// Close stops new calls, wakes long polls, lets running calls finish within the
// drain bound, then drains the connection and releases the embedded server.
// A second Close answers shutdown.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errShutdown
	}
	b.closed = true
	b.cancel()
	var idle chan struct{}
	if b.active > 0 {
		idle = make(chan struct{})
		b.idle = idle
	}
	b.mu.Unlock()
	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(drainTimeout):
			err = NewError(CodeTransient, "shutdown: calls still running after %v", drainTimeout)
		}
	}
	b.groups.leave()
	if derr := b.js.shutdown(); derr != nil && err == nil {
		err = derr
	}
	return err
}

// deadline returns a context bounded by timeout and cancelled on Close.
func (b *Bus) deadline(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, timeout)
}

// deadlineFrom is deadline for a call whose timeout counts from its start, so
// decoding a large request is inside it.
func (b *Bus) deadlineFrom(start time.Time, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithDeadline(b.ctx, start.Add(timeout))
}

// result counts an error by code and makes a call racing Close answer shutdown.
func (b *Bus) result(err error) error {
	if err == nil {
		return nil
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	switch code := CodeOf(err); {
	case !closed, code == CodeShutdown, code == CodeInvalidArgument, code == CodeTooLarge:
	default:
		err = wrapError(CodeShutdown, err, "the bus is shutting down")
	}
	b.stats.countError(CodeOf(err))
	return err
}
