package core

import (
	"context"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// A publish call is one pubBatch, and this file is all it does: stamp the
// records, send each message once, take the acks, and send again with the same
// Nats-Msg-Id what is unanswered or refused until the deadline (the dedup window
// makes that safe).

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
	event []byte // the event as given
	rec   []byte // the stored record
	shard uint32
	part  uint32 // index within this call's events for the shard (or request index with batch_id)
}

type pubBatch struct {
	id       uint64
	batchID  string   // caller's batch_id, or "" for N:k:S:i ids
	msgs     []pubMsg // in request order
	perShard []uint32 // events per shard
	starts   []uint64 // per shard: events this handle sent there before (S of N:k:S:i)
	size     int      // a guess at the records' total size

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
	wantRoom bool       // the sender waits for the window to drain
	rounds   int        // send rounds so far
	fast     *fastState // nil: every message goes per message
	seen     func(shard int, seq uint64)
	// progress wakes the waiting caller only when it can move on (nothing in
	// flight, or room in the window): from a C thread every wake is an OS
	// thread switch, so it must not come with every ack.
	progress chan struct{}
}

// newPubBatch routes the request's events to shards: the request's shard, or
// net-mesh's hash of the event bytes.
func newPubBatch(req publishRequest, shards int) *pubBatch {
	n := len(req.events)
	b := &pubBatch{
		batchID:  req.batchID,
		msgs:     make([]pubMsg, n),
		perShard: make([]uint32, shards),
		starts:   make([]uint64, shards),
		state:    make([]uint8, n),
		sends:    make([]uint8, n),
		gone:     make([]bool, shards),
		progress: make(chan struct{}, 1),
	}
	if req.acks {
		b.seqs = make([]uint64, n)
	}
	for i, ev := range req.events {
		k := req.shard
		if k < 0 {
			k = routeShard(ev, shards)
		}
		m := &b.msgs[i]
		m.event, m.shard, m.part = ev, uint32(k), b.perShard[k]
		if req.batchID != "" {
			m.part = uint32(i)
		}
		b.perShard[k]++
		b.size += len(ev) + 48
	}
	return b
}

// shardClock gives records their timestamps (increasing per shard within a
// handle) and counts the events sent per shard, for t and N:k:S:i. It is held
// from stamping a call's events until they are sent, so stream order and
// timestamp order agree within a handle (a retry may still reorder).
type shardClock struct {
	mu     sync.Mutex
	lastTS []uint64
	sent   []uint64
}

func newShardClock(shards int) *shardClock {
	return &shardClock{lastTS: make([]uint64, shards), sent: make([]uint64, shards)}
}

// take reserves perShard timestamps and send counts; it returns each shard's
// first timestamp and sets b.starts. The caller holds c.mu.
func (c *shardClock) take(b *pubBatch) []uint64 {
	now := uint64(time.Now().UnixNano())
	first := make([]uint64, len(b.perShard))
	for k, n := range b.perShard {
		if n == 0 {
			continue
		}
		t := max(now, c.lastTS[k]+1)
		first[k] = t
		c.lastTS[k] = t + uint64(n) - 1
		b.starts[k] = c.sent[k]
		c.sent[k] += uint64(n)
	}
	return first
}

// stamp writes every record into buf, refusing any message over maxPayload.
// The caller holds the clock's lock.
func (b *pubBatch) stamp(c *shardClock, buf []byte, maxPayload, nonceHexLen int) ([]byte, error) {
	next := c.take(b)
	if cap(buf) < b.size {
		buf = make([]byte, 0, b.size)
	}
	for i := range b.msgs {
		m := &b.msgs[i]
		k := int(m.shard)
		ts := next[k]
		next[k]++
		size := recordLen(m.event, ts, k) + len("NATS/1.0\r\nNats-Msg-Id: \r\n\r\n") +
			msgIDLen(b.batchID, nonceHexLen, k, b.starts[k], int(m.part))
		if size > maxPayload {
			return buf, NewError(CodeTooLarge, "events[%d]: stored message of %d bytes is over the server's max_payload %d", i, size, maxPayload)
		}
		start := len(buf)
		buf = appendRecord(buf, m.event, ts, k)
		m.rec = buf[start:len(buf):len(buf)]
	}
	return buf, nil
}

// publisher is what a publish in flight needs of the connection.
type publisher struct {
	nc          *nats.Conn
	tickSubj    string                      // <prefix>.tick
	seen        func(shard int, seq uint64) // told each stored sequence acknowledged
	subjects    []string
	streams     *streamSet
	acks        *ackRouter
	nonce       uint64
	nonceHexLen int
}

var recBufPool = sync.Pool{New: func() any { return new([]byte) }}

// publish stamps b's records, sends them and waits until every one is
// acknowledged, sending again what is unanswered until ctx ends. The work runs
// on a goroutine of its own: a write to a server that reads nothing blocks
// inside nats.go, and the call must still return at its deadline.
func (p *publisher) publish(ctx context.Context, b *pubBatch, clock *shardClock, log *logger) error {
	return bounded(ctx, log, "publish", func() error { return p.run(ctx, b, clock) }, b.timeoutError)
}

// deadlineGrace is how long a call waits past its deadline for its own worker
// to report why it ended, before answering with a plain timeout.
const deadlineGrace = 50 * time.Millisecond

// bounded runs fn on a goroutine and returns its result, or late() once ctx
// has ended and fn has not returned within deadlineGrace.
func bounded(ctx context.Context, log *logger, what string, fn func() error, late func() error) error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				log.Errorf("recovered panic in %s: %v", what, r)
				err = NewError(CodeInternal, "internal error (recovered panic in %s): %v", what, r)
			}
			done <- err
		}()
		err = fn()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(deadlineGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return late()
	}
}

// run is publish's worker; it releases what it holds when it ends.
func (p *publisher) run(ctx context.Context, b *pubBatch, clock *shardClock) error {
	bufp := recBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= 8<<20 {
			recBufPool.Put(bufp)
		}
	}()
	b.seen = p.seen
	p.acks.register(b)
	defer p.acks.unregister(b)
	clock.mu.Lock()
	var err error
	*bufp, err = b.stamp(clock, (*bufp)[:0], p.maxPayload(), p.nonceHexLen)
	if err == nil {
		b.planFast(p.streams.batched)
		if err = p.send(ctx, b); err == errSendAgain {
			err = nil // await sends it again
		}
	}
	clock.mu.Unlock()
	if err != nil {
		return err
	}
	return p.await(ctx, b)
}

// maxPayload is the server's limit for one message, headers included.
func (p *publisher) maxPayload() int {
	if mp := p.nc.MaxPayload(); mp > 0 {
		return int(mp)
	}
	return 1 << 20
}

// await waits until every message of b is acknowledged; unanswered or refused
// messages are sent again with the same ids, with backoff, until the deadline.
func (p *publisher) await(ctx context.Context, b *pubBatch) error {
	backoff := 50 * time.Millisecond
	for {
		if err := b.waitUntil(ctx, func() bool { return b.inflight == 0 }); err != nil {
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
		if done == len(b.msgs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return b.timeoutError()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		if err := p.recheckStreams(ctx, gone); err != nil {
			return err
		}
		if err := p.send(ctx, b); err != nil && err != errSendAgain {
			return err
		}
	}
}

// recheckStreams looks again at shards answered "no responders": the stream may
// be gone or electing a leader, and the JetStream API may be electing too, so
// the check must not eat the call's deadline.
func (p *publisher) recheckStreams(ctx context.Context, gone []bool) error {
	for k, g := range gone {
		if !g {
			continue
		}
		p.streams.gone(k)
		ectx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.streams.ensure(ectx, k)
		cancel()
		if err != nil && CodeOf(err) != CodeTransient {
			return err
		}
	}
	return nil
}

func (b *pubBatch) timeoutError() error {
	b.mu.Lock()
	left, refusal := len(b.msgs)-b.done, b.refusal
	b.mu.Unlock()
	if refusal != nil {
		return NewError(CodeTransient, "publish: %d of %d events not acknowledged in time (last refusal: %v); retry the same request", left, len(b.msgs), refusal)
	}
	return NewError(CodeTransient, "publish: %d of %d events not acknowledged in time; retry the same request", left, len(b.msgs))
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
			return b.timeoutError()
		}
	}
}

// send (re)sends, chunk by chunk, every message not yet answered for good,
// keeping at most publishWindow in flight.
func (p *publisher) send(ctx context.Context, b *pubBatch) error {
	out := p.newOutMsg(b)
	b.mu.Lock()
	b.lastAck = time.Now() // a stall counts from the send
	if b.rounds++; b.rounds > 1 {
		b.endFastAll()
	}
	b.mu.Unlock()
	todo := make([]int, 0, sendChunk)
	for i := 0; i < len(b.msgs); {
		var inflight int
		todo, i, inflight = b.nextChunk(todo[:0], i)
		for jx, j := range todo {
			if jx == len(todo)-1 && i >= len(b.msgs) {
				if err := p.tick(b); err != nil {
					return b.sendFailed(todo[jx:], sendError(err))
				}
			}
			var err error
			if j < 0 { // ^j goes in its shard's fast batch
				err = out.publishFast(p, b, ^j)
			} else {
				err = out.publish(p, b, j)
			}
			if err != nil {
				return b.sendFailed(todo[jx:], sendError(err))
			}
		}
		if inflight > publishWindow {
			if room, err := b.waitForRoom(ctx); err != nil || !room {
				return err // stalled: await sends what is unanswered again
			}
		}
	}
	return nil
}

const sendChunk = 256

// tick tells pollers which shards b writes to. It goes out just before b's
// last message: the server hands it to subscribers before it reads that
// message, so before b can be wholly acknowledged, and a poll that starts after
// the publish returns is ordered behind it (see shardIndex). The shards' own
// subjects cannot do this: the server may acknowledge an event to the
// publisher before it passes the event to other subscribers.
func (p *publisher) tick(b *pubBatch) error {
	shards := make([]byte, 0, 64)
	for k, n := range b.perShard {
		if n > 0 {
			if len(shards) > 0 {
				shards = append(shards, ',')
			}
			shards = strconv.AppendInt(shards, int64(k), 10)
		}
	}
	return p.nc.Publish(p.tickSubj, shards)
}

// nextChunk marks up to sendChunk messages from i on as sent before they go
// out, so a fast ack finds them so; it returns them (^j for one that goes in a
// fast batch), where to go on, and how many are in flight.
func (b *pubBatch) nextChunk(todo []int, i int) ([]int, int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ; i < len(b.msgs) && len(todo) < sendChunk; i++ {
		switch b.state[i] {
		case stUnsent, stRetry:
			b.state[i] = stSent
			b.inflight++
		case stSent:
			// unanswered: send again, still counted once
		default:
			continue
		}
		if b.sends[i] < 255 {
			b.sends[i]++
		}
		if b.sendsFast(i) {
			todo = append(todo, ^i)
		} else {
			todo = append(todo, i)
		}
	}
	return todo, i, b.inflight
}

// waitForRoom waits until half the window is free; room is false on a stall.
func (b *pubBatch) waitForRoom(ctx context.Context) (room bool, err error) {
	b.mu.Lock()
	b.wantRoom = true
	b.mu.Unlock()
	err = b.waitUntil(ctx, func() bool { return b.inflight <= publishWindow/2 })
	b.mu.Lock()
	b.wantRoom = false
	room = b.inflight <= publishWindow/2
	b.mu.Unlock()
	return room, err
}

// outMsg is one reusable message whose subject, reply and id change per send.
type outMsg struct {
	msg       *nats.Msg
	hdrVal    []string
	reply, id []byte
	replyBase int
	fastReply []byte
}

func (p *publisher) newOutMsg(b *pubBatch) *outMsg {
	o := &outMsg{msg: &nats.Msg{Header: nats.Header{}}, hdrVal: []string{""}, id: make([]byte, 0, 64)}
	o.msg.Header["Nats-Msg-Id"] = o.hdrVal
	o.reply = make([]byte, 0, len(p.acks.prefix)+24)
	o.reply = append(o.reply, p.acks.prefix...)
	o.reply = strconv.AppendUint(o.reply, b.id, 10)
	o.reply = append(o.reply, '.')
	o.replyBase = len(o.reply)
	return o
}

// publish sends message j of b with the reply subject <acks prefix><batch>.<j>.
func (o *outMsg) publish(p *publisher, b *pubBatch, j int) error {
	m := &b.msgs[j]
	o.id = b.appendMsgID(o.id[:0], p.nonce, m)
	o.reply = strconv.AppendInt(o.reply[:o.replyBase], int64(j), 10)
	o.msg.Subject = p.subjects[m.shard]
	// nats.go copies subject, reply and header into its buffer before
	// PublishMsg returns, so reused byte buffers are safe here.
	o.msg.Reply = unsafe.String(unsafe.SliceData(o.reply), len(o.reply))
	o.hdrVal[0] = unsafe.String(unsafe.SliceData(o.id), len(o.id))
	o.msg.Data = m.rec
	return p.nc.PublishMsg(o.msg)
}

// errSendAgain says a send failed for now (a broken or reconnecting
// connection): the caller backs off and sends what is unanswered again.
var errSendAgain = NewError(CodeTransient, "publish: connection lost while sending")

// sendFailed marks the messages not sent as to be sent again; a send error that
// a retry may cure becomes errSendAgain.
func (b *pubBatch) sendFailed(unsent []int, err error) error {
	b.mu.Lock()
	for _, j := range unsent {
		if j < 0 {
			j = ^j
		}
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

func sendError(err error) error {
	switch code := CodeOf(err); code {
	case CodeShutdown, CodeTooLarge:
		return wrapError(code, err, "publish")
	}
	return wrapError(CodeTransient, err, "publish")
}

// onAck takes JetStream's answer to message idx.
func (b *pubBatch) onAck(idx int, m *nats.Msg) {
	seq, dup, fail := parsePubAck(m)
	b.mu.Lock()
	if b.state[idx] == stSent {
		b.inflight--
		switch {
		case fail == nil:
			b.stored(idx, seq, dup)
		case CodeOf(fail) == CodeTransient:
			b.state[idx] = stRetry
			b.refusal = fail
			if fail == errNoResponders {
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
		b.wake()
	}
}

// wake tells the waiting caller it may move on.
func (b *pubBatch) wake() {
	select {
	case b.progress <- struct{}{}:
	default:
	}
}

// stored records a positive ack under b.mu. A duplicate answer to a message
// sent again in this call most likely means its first send was stored: that
// counts as a publish.
func (b *pubBatch) stored(idx int, seq uint64, dup bool) {
	if dup && b.sends[idx] == 1 {
		b.state[idx] = stDuplicate
		b.dups++
	} else {
		b.state[idx] = stStored
	}
	if b.seqs != nil {
		b.seqs[idx] = seq
	}
	if seq > 0 && b.seen != nil {
		b.seen(int(b.msgs[idx].shard), seq)
	}
	b.done++
}

var errNoResponders = NewError(CodeTransient, "no stream answered (missing or electing a leader)")

// parsePubAck reads {"stream":…,"seq":n,"duplicate":true} or {"error":{…}}
// without building a map: there is one per message.
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
		return 0, false, decodeAPIError(errObj)
	}
	if seq == 0 {
		return 0, false, NewError(CodeTransient, "ack without sequence %q", clip(m.Data))
	}
	return seq, dup, nil
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

// encodeResponse writes {"published":n,"duplicates":d,"acks":[…]?}.
func (b *pubBatch) encodeResponse() []byte {
	n := len(b.msgs)
	out := make([]byte, 0, 40+len(b.seqs)*48)
	out = append(out, `{"published":`...)
	out = strconv.AppendInt(out, int64(n-b.dups), 10)
	out = append(out, `,"duplicates":`...)
	out = strconv.AppendInt(out, int64(b.dups), 10)
	if b.seqs != nil {
		out = append(out, `,"acks":[`...)
		for i := range b.msgs {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"shard":`...)
			out = strconv.AppendUint(out, uint64(b.msgs[i].shard), 10)
			out = append(out, `,"seq":"`...)
			out = strconv.AppendUint(out, b.seqs[i], 10)
			out = append(out, `","duplicate":`...)
			out = strconv.AppendBool(out, b.state[i] == stDuplicate)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	return append(out, '}')
}
