package core

import (
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Acks of every publish call arrive on one long-lived subscription, each with
// the reply subject <ackPrefix><batch>.<index>, so no per-message channel or
// future is needed: the handler finds the call and the event by the subject.

type ackRouter struct {
	a      *Adapter
	prefix string
	sub    *nats.Subscription
	mu     sync.Mutex
	m      map[uint64]*pubBatch
	next   uint64
}

func (r *ackRouter) start(a *Adapter, prefix string) error {
	r.a, r.prefix, r.m = a, prefix, map[uint64]*pubBatch{}
	sub, err := a.nc.Subscribe(prefix+">", func(m *nats.Msg) {
		defer recoverLog(a.log, "ack handler")
		r.handle(m)
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

func (r *ackRouter) handle(m *nats.Msg) {
	tail := m.Subject[len(r.prefix):]
	dot := -1
	for i := 0; i < len(tail); i++ {
		if tail[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return
	}
	id, err1 := strconv.ParseUint(tail[:dot], 10, 64)
	idx, err2 := strconv.Atoi(tail[dot+1:])
	if err1 != nil || err2 != nil {
		return
	}
	r.mu.Lock()
	b := r.m[id]
	r.mu.Unlock()
	if b == nil || idx < 0 || idx >= len(b.msgs) {
		return // a late ack of a finished call
	}
	seq, dup, fail := parsePubAck(m)
	b.mu.Lock()
	if b.state[idx] == stSent {
		b.inflight--
		switch {
		case fail == nil:
			// A duplicate answer to a message sent again in this call most
			// likely means its first send was stored: that is a publish.
			if dup && b.sends[idx] == 1 {
				b.state[idx] = stDuplicate
				b.dups++
			} else {
				b.state[idx] = stStored
			}
			if b.seqs != nil {
				b.seqs[idx] = seq
			}
			b.done++
		case CodeOf(fail) == CodeTransient:
			b.state[idx] = stRetry
			b.refusal = fail
			if errorIsNoResponders(fail) {
				b.gone[b.msgs[idx].shard] = true
			}
		default:
			b.state[idx] = stFailed
			b.done++
			if b.failed == nil {
				b.failed = wrapError(CodeOf(fail), fail, "event %d", idx)
			}
		}
	}
	b.lastAck = time.Now()
	wake := b.inflight == 0 || (b.wantRoom && b.inflight <= publishWindow/2)
	b.mu.Unlock()
	if wake {
		select {
		case b.progress <- struct{}{}:
		default:
		}
	}
}

var errNoResponders = NewError(CodeTransient, "no stream answered (missing or electing a leader)")

func errorIsNoResponders(err error) bool { return err == errNoResponders }

// parsePubAck reads {"stream":…,"seq":n,"duplicate":true} or {"error":{…}}
// without building a map.
func parsePubAck(m *nats.Msg) (seq uint64, dup bool, fail error) {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return 0, false, errNoResponders
		}
		return 0, false, NewError(CodeTransient, "unexpected ack status %q", m.Header.Get("Status"))
	}
	var errObj []byte
	err := eachFieldRaw(m.Data, func(key, v []byte) error {
		switch string(key) {
		case "seq":
			seq, _ = parseUintDec(v)
		case "duplicate":
			dup = string(v) == "true"
		case "error":
			errObj = v
		}
		return nil
	})
	if err != nil {
		return 0, false, NewError(CodeTransient, "malformed ack %q", clip(m.Data))
	}
	if errObj != nil {
		return 0, false, apiErrorFromJSON(errObj)
	}
	if seq == 0 {
		return 0, false, NewError(CodeTransient, "ack without sequence %q", clip(m.Data))
	}
	return seq, dup, nil
}

// apiErrorFromJSON classifies a JetStream {"code":…,"err_code":…,"description":…}.
func apiErrorFromJSON(v []byte) error {
	var code, errCode uint64
	desc := ""
	_ = eachFieldRaw(v, func(key, v []byte) error {
		switch string(key) {
		case "code":
			code, _ = parseUintDec(v)
		case "err_code":
			errCode, _ = parseUintDec(v)
		case "description":
			desc, _ = unquoteValue(v)
		}
		return nil
	})
	msg := "JetStream: " + desc + " (" + strconv.FormatUint(code, 10) + "/" + strconv.FormatUint(errCode, 10) + ")"
	switch {
	case errCode == 10158: // duplicate message id is in process
		return NewError(CodeTransient, "%s", msg)
	case errCode == 10054: // message size exceeds maximum allowed
		return NewError(CodeTooLarge, "%s", msg)
	case code == 503 || code == 408 || code == 429:
		return NewError(CodeTransient, "%s", msg)
	case code == 401 || code == 403:
		return NewError(CodeConnection, "%s", msg)
	}
	return NewError(CodeFatal, "%s", msg)
}
