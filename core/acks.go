package core

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// Acks of every publish call arrive on one long-lived subscription, each with
// the reply subject <prefix><batch>.<index>, so no per-message channel or future
// is needed: the router finds the call by the subject and hands it the ack.
type ackRouter struct {
	prefix  string
	streams *streamSet
	sub     *nats.Subscription
	mu      sync.Mutex
	m       map[uint64]*pubBatch
	next    uint64
}

func (r *ackRouter) start(nc *nats.Conn, log *logger, prefix string) error {
	r.prefix, r.m = prefix, map[uint64]*pubBatch{}
	sub, err := nc.Subscribe(prefix+">", func(m *nats.Msg) {
		defer recoverLog(log, "ack handler")
		r.route(m)
	})
	if err != nil {
		return wrapError(CodeConnection, err, "ack subscription")
	}
	_ = sub.SetPendingLimits(-1, -1)
	r.sub = sub
	return nil
}

func (r *ackRouter) register(b *pubBatch) {
	r.mu.Lock()
	r.next++
	b.id = r.next
	r.m[b.id] = b
	r.mu.Unlock()
}

func (r *ackRouter) unregister(b *pubBatch) {
	r.mu.Lock()
	delete(r.m, b.id)
	r.mu.Unlock()
}

func (r *ackRouter) route(m *nats.Msg) {
	rest := m.Subject[len(r.prefix):]
	if strings.HasPrefix(rest, "f") {
		r.routeFast(rest[1:], m)
		return
	}
	batch, index, ok := strings.Cut(rest, ".")
	if !ok {
		return
	}
	id, err1 := strconv.ParseUint(batch, 10, 64)
	idx, err2 := strconv.Atoi(index)
	if err1 != nil || err2 != nil {
		return
	}
	r.mu.Lock()
	b := r.m[id]
	r.mu.Unlock()
	if b == nil || idx < 0 || idx >= len(b.msgs) {
		return // a late ack of a finished call
	}
	b.onAck(idx, m)
}

// routeFast hands an answer on a fast batch, <batch>.<shard>.<batch id>…, to
// its call.
func (r *ackRouter) routeFast(rest string, m *nats.Msg) {
	batch, rest, ok1 := strings.Cut(rest, ".")
	shard, _, ok2 := strings.Cut(rest, ".")
	id, err1 := strconv.ParseUint(batch, 10, 64)
	k, err2 := strconv.Atoi(shard)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return
	}
	r.mu.Lock()
	b := r.m[id]
	r.mu.Unlock()
	if b == nil || k < 0 || k >= len(b.perShard) {
		return
	}
	b.onFast(k, m, r.streams)
}
