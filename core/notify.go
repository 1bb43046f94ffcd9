package core

import (
	"sync"

	"github.com/nats-io/nats.go"
)

// notifier wakes long polls (wait_ms) when an event is published on any shard
// subject. It subscribes only while someone waits: JetStream publishes are plain
// subject messages, so the subscription sees them as they are stored.
type notifier struct {
	nc      *nats.Conn
	subject string
	mu      sync.Mutex
	waiters int
	sub     *nats.Subscription
	ch      chan struct{} // closed and replaced on every event
	stopped bool
}

func (n *notifier) init(nc *nats.Conn, subject string) {
	n.nc, n.subject, n.ch = nc, subject, make(chan struct{})
}

// acquire registers a waiter; the subscription is in place when it returns, and
// since reads go out later on the same connection, no event can slip between.
func (n *notifier) acquire() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return errShutdown
	}
	n.waiters++
	if n.sub == nil {
		sub, err := n.nc.Subscribe(n.subject, func(*nats.Msg) {
			n.mu.Lock()
			close(n.ch)
			n.ch = make(chan struct{})
			n.mu.Unlock()
		})
		if err != nil {
			n.waiters--
			return wrapError(CodeTransient, err, "wait subscription")
		}
		_ = sub.SetPendingLimits(1<<16, 64<<20)
		n.sub = sub
	}
	return nil
}

// changed returns a channel closed at the next event.
func (n *notifier) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waiters--
	if n.waiters == 0 && n.sub != nil {
		_ = n.sub.Unsubscribe()
		n.sub = nil
	}
}

func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	close(n.ch)
	n.ch = make(chan struct{})
}
