package core

import (
	"context"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// A publish call is one pubBatch: every message goes out once, and those not
// acknowledged are sent again with the same Nats-Msg-Id until the call's
// deadline; the dedup window makes that safe.

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
