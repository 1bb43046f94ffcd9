package core

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// The publish pipeline: every message of a call goes out with a reply subject
// <ackPrefix><batch>.<index> on one long-lived subscription, so acks need no
// per-message channel or future. Unacknowledged messages are sent again with the
// same Nats-Msg-Id until the call's deadline; the dedup window makes that safe.

const (
	stUnsent uint8 = iota
	stSent
	stRetry // transient error answered: send again
	stStored
	stDuplicate
	stFailed
)

const (
	publishWindow = 8192 // messages in flight per call
	ackStall      = 2 * time.Second
)

// pubMsg is one event of a publish call.
type pubMsg struct {
	rec   []byte // the stored record
	shard uint32
	part  uint32 // index within this call's events for the shard (or request index with batch_id)
}

type pubBatch struct {
	id      uint64
	batchID string // caller's batch_id, or "" for N:k:S:i ids
	starts  []uint64
	msgs    []pubMsg

	mu       sync.Mutex
	state    []uint8
	sends    []uint8  // times each message went out (saturating)
	seqs     []uint64 // only when acks were asked for
	inflight int
	done     int // stored, duplicate or failed
	dups     int
	failed   error
	refusal  error  // the last transient refusal, for the timeout message
	gone     []bool // shards answered "no responders"
	lastAck  time.Time
	wantRoom bool // the sender waits for the window to drain
	// progress wakes the waiting caller only when it can move on (nothing in
	// flight, or room in the window): from a C thread every wake is an OS
	// thread switch, so it must not come with every ack.
	progress chan struct{}
}

type ackRouter struct {
	a      *Adapter
	prefix string
	sub    *nats.Subscription
	mu     sync.Mutex
	m      map[uint64]*pubBatch
	next   uint64
}

func randomNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
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

// startBatch prepares b and registers it for acks.
func (a *Adapter) startBatch(b *pubBatch) {
	b.state = make([]uint8, len(b.msgs))
	b.sends = make([]uint8, len(b.msgs))
	b.gone = make([]bool, a.cfg.Shards)
	b.progress = make(chan struct{}, 1)
	a.acks.register(b)
}

// OnBatch waits until every message of b, already sent once by sendPending, is
// acknowledged; unanswered or refused messages are sent again with the same ids
// until the deadline.
func (a *Adapter) OnBatch(ctx context.Context, b *pubBatch) error {
	n := len(b.msgs)
	backoff := 50 * time.Millisecond
	for {
		if err := b.waitAcks(ctx); err != nil {
			return err
		}
		b.mu.Lock()
		done, failed := b.done, b.failed
		gone := append([]bool(nil), b.gone...)
		clear(b.gone)
		b.mu.Unlock()
		if failed != nil {
			return failed
		}
		if done == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return b.timeoutError(ctx)
		case <-time.After(backoff):
		}
		if backoff < time.Second {
			backoff *= 2
		}
		for k, g := range gone {
			if g {
				// The stream may be gone or electing a leader; the JetStream API
				// may be electing too, so this check must not eat the deadline.
				a.streamGone(k)
				ectx, cancel := context.WithTimeout(ctx, time.Second)
				err := a.ensureStream(ectx, k)
				cancel()
				if err != nil && CodeOf(err) != CodeTransient {
					return err
				}
			}
		}
		if err := a.sendPending(ctx, b); err != nil && err != errSendAgain {
			return err
		}
	}
}

func (b *pubBatch) timeoutError(ctx context.Context) error {
	b.mu.Lock()
	left, refusal := len(b.msgs)-b.done, b.refusal
	b.mu.Unlock()
	if refusal != nil {
		return NewError(CodeTransient, "publish: %d of %d events not acknowledged in time (last refusal: %v); retry the same request", left, len(b.msgs), refusal)
	}
	return NewError(CodeTransient, "publish: %d of %d events not acknowledged in time; retry the same request", left, len(b.msgs))
}

// waitAcks waits until nothing is in flight, or no ack came for ackStall.
func (b *pubBatch) waitAcks(ctx context.Context) error {
	return b.waitUntil(ctx, func() bool { return b.inflight == 0 })
}

// waitUntil waits until ready (checked under b.mu) or no ack came for ackStall.
func (b *pubBatch) waitUntil(ctx context.Context, ready func() bool) error {
	var stall *time.Timer
	defer func() {
		if stall != nil {
			stall.Stop()
		}
	}()
	for {
		b.mu.Lock()
		done, idle := ready(), ackStall-time.Since(b.lastAck)
		b.mu.Unlock()
		if done || idle <= 0 {
			return nil
		}
		if stall == nil {
			stall = time.NewTimer(idle)
		} else {
			stall.Reset(idle)
		}
		select {
		case <-b.progress:
		case <-stall.C:
		case <-ctx.Done():
			return b.timeoutError(ctx)
		}
	}
}

// sendPending (re)sends every message not yet answered for good.
func (a *Adapter) sendPending(ctx context.Context, b *pubBatch) error {
	msg := &nats.Msg{Header: nats.Header{}}
	hdrVal := []string{""}
	msg.Header["Nats-Msg-Id"] = hdrVal
	reply := make([]byte, 0, len(a.acks.prefix)+24)
	reply = append(reply, a.acks.prefix...)
	reply = strconv.AppendUint(reply, b.id, 10)
	reply = append(reply, '.')
	replyBase := len(reply)
	id := make([]byte, 0, 64)

	const chunk = 256
	todo := make([]int, 0, chunk)
	b.mu.Lock()
	b.lastAck = time.Now() // a stall counts from the send
	b.mu.Unlock()
	for i := 0; i < len(b.msgs); {
		// Mark a chunk as sent before it goes out, so a fast ack finds it so.
		todo = todo[:0]
		b.mu.Lock()
		for ; i < len(b.msgs) && len(todo) < chunk; i++ {
			switch b.state[i] {
			case stUnsent, stRetry:
				b.state[i] = stSent
				b.inflight++
				todo = append(todo, i)
			case stSent:
				todo = append(todo, i) // unanswered: send again, still counted once
			default:
				continue
			}
			if b.sends[i] < 255 {
				b.sends[i]++
			}
		}
		inflight := b.inflight
		b.mu.Unlock()
		for jx, j := range todo {
			m := &b.msgs[j]
			id = b.appendMsgID(id[:0], a.nonce, m)
			reply = strconv.AppendInt(reply[:replyBase], int64(j), 10)
			msg.Subject = a.subjects[m.shard]
			// nats.go copies subject, reply and header into its buffer before
			// PublishMsg returns, so reused byte buffers are safe here.
			msg.Reply = unsafe.String(unsafe.SliceData(reply), len(reply))
			hdrVal[0] = unsafe.String(unsafe.SliceData(id), len(id))
			msg.Data = m.rec
			if err := a.nc.PublishMsg(msg); err != nil {
				return b.sendFailed(todo[jx:], a.sendError(err))
			}
		}
		if inflight > publishWindow {
			b.mu.Lock()
			b.wantRoom = true
			b.mu.Unlock()
			err := b.waitUntil(ctx, func() bool { return b.inflight <= publishWindow/2 })
			b.mu.Lock()
			b.wantRoom = false
			room := b.inflight <= publishWindow/2
			b.mu.Unlock()
			if err != nil {
				return err
			}
			if !room {
				return nil // stalled: the caller resends what is unanswered
			}
		}
	}
	return nil
}

// errSendAgain says a send failed for now (a broken or reconnecting
// connection): the caller backs off and sends what is unanswered again.
var errSendAgain = NewError(CodeTransient, "publish: connection lost while sending")

// sendFailed marks the messages not sent as to be sent again; a send error that
// a retry may cure becomes errSendAgain.
func (b *pubBatch) sendFailed(unsent []int, err error) error {
	b.mu.Lock()
	for _, j := range unsent {
		if b.state[j] == stSent {
			b.state[j] = stRetry
			b.inflight--
		}
	}
	b.refusal = err
	b.mu.Unlock()
	if CodeOf(err) == CodeTransient {
		return errSendAgain
	}
	return err
}

func (a *Adapter) sendError(err error) error {
	switch CodeOf(err) {
	case CodeShutdown:
		return wrapError(CodeShutdown, err, "publish")
	case CodeTooLarge:
		return wrapError(CodeTooLarge, err, "publish")
	}
	return wrapError(CodeTransient, err, "publish")
}

// appendMsgID writes the Nats-Msg-Id: B:i with a batch_id, else N:k:S:i.
func (b *pubBatch) appendMsgID(dst []byte, nonce uint64, m *pubMsg) []byte {
	if b.batchID != "" {
		dst = append(dst, b.batchID...)
		dst = append(dst, ':')
		return strconv.AppendUint(dst, uint64(m.part), 10)
	}
	dst = strconv.AppendUint(dst, nonce, 16)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, uint64(m.shard), 10)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, b.starts[m.shard], 10)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, uint64(m.part), 10)
}

func msgIDLen(batchID string, nonceHexLen, shard int, start uint64, part int) int {
	if batchID != "" {
		return len(batchID) + 1 + decLen(uint64(part))
	}
	return nonceHexLen + 3 + decLen(uint64(shard)) + decLen(start) + decLen(uint64(part))
}

// recoverLog keeps a panic in a library goroutine from killing the host process.
func recoverLog(l *logger, where string) {
	if r := recover(); r != nil {
		l.Errorf("recovered panic in %s: %v", where, r)
	}
}
