package core

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
)

// notifier wakes long polls (wait_ms) when an event is published on any shard
// subject. It subscribes only while someone waits: JetStream publishes are plain
// subject messages, so the subscription sees them as they are stored.
type notifier struct {
	nc      *nats.Conn
	log     *logger
	subject string
	onEvent func(subject string) // told the subject of every event seen
	mu      sync.Mutex
	waiters int
	sub     *nats.Subscription
	ready   chan struct{} // closed once the subscription of the current waiters is in place
	subErr  error
	ch      chan struct{} // closed and replaced on every event
	stopped bool
}

func (n *notifier) init(nc *nats.Conn, log *logger, subject string, onEvent func(string)) {
	n.nc, n.log, n.subject, n.onEvent, n.ch = nc, log, subject, onEvent, make(chan struct{})
}

// acquire registers a waiter; the subscription is in place when it returns, and
// since reads go out later on the same connection, no event can slip between.
// The subscribe runs on a goroutine: behind a write to a server that reads
// nothing it would block, and the poll must still end at its deadline.
func (n *notifier) acquire(ctx context.Context) error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return errShutdown
	}
	n.waiters++
	if n.ready == nil {
		n.ready = make(chan struct{})
		go n.subscribe(n.ready)
	}
	ready := n.ready
	n.mu.Unlock()
	select {
	case <-ready:
		n.mu.Lock()
		err := n.subErr
		n.mu.Unlock()
		if err != nil {
			n.release()
			return wrapError(CodeTransient, err, "wait subscription")
		}
		return nil
	case <-ctx.Done():
		n.release()
		return NewError(CodeTransient, "wait subscription: the server did not take it in time")
	}
}

func (n *notifier) subscribe(ready chan struct{}) {
	defer recoverLog(n.log, "wait subscription")
	sub, err := n.nc.Subscribe(n.subject, func(m *nats.Msg) {
		n.onEvent(m.Subject)
		n.mu.Lock()
		close(n.ch)
		n.ch = make(chan struct{})
		n.mu.Unlock()
	})
	if err == nil {
		_ = sub.SetPendingLimits(1<<16, 64<<20)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ready != ready { // every waiter left meanwhile
		if err == nil {
			go unsubscribe(sub)
		}
		return
	}
	n.sub, n.subErr = sub, err
	if err != nil {
		n.ready = nil // the next waiter tries again
	}
	close(ready)
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
	if n.waiters > 0 {
		return
	}
	if n.sub != nil {
		go unsubscribe(n.sub)
	}
	n.sub, n.ready, n.subErr = nil, nil, nil
}

// unsubscribe runs on its own goroutine, for the same reason as subscribe.
func unsubscribe(sub *nats.Subscription) { _ = sub.Unsubscribe() }

func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	close(n.ch)
	n.ch = make(chan struct{})
}
