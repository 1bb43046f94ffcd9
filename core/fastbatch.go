package core

import (
	"encoding/json"
	"strconv"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// Fast batch publishing (nats-server 2.14+, ADR-50): the first send of a
// shard's events goes out as one fast batch, whose reply subjects carry the
// batch id, its sequence and operation; the server answers with a flow ack
// every N stored messages ({"type":"ack","seq":S}: 1..S are stored) and one
// PubAck at the commit ({"seq":…,"batch":…,"count":C}: 1..C are stored), in
// place of one PubAck per message. The batch runs in gap "fail" mode, so a
// lost or refused message ends it and C says where.
//
// The server skips a message whose Nats-Msg-Id it already holds without
// saying so, and tells no stream sequence but the last; so requests whose
// answer needs either (batch_id: its duplicates; acks) are sent per message.
// Anything a fast batch leaves unconfirmed (it ended early, it stalled, the
// connection dropped) is sent again per message with the same ids, which
// answers exactly.

const (
	// fastFlow is the most messages the server may store between two flow acks.
	fastFlow = 500
	// fastMin is the fewest events of a shard worth a fast batch.
	fastMin = 2
	// fastSuffix ends every fast batch reply subject.
	fastSuffix = ".$FI"
	// batchDisabled is JetStream's err_code for a stream without allow_batched.
	batchDisabled = 10205
)

const (
	fastOpStart = iota
	fastOpAppend
	fastOpCommit
)

// fastState is a call's fast batches, one per shard that takes one.
type fastState struct {
	on    []bool   // per shard: a fast batch is (or was) under way
	over  []bool   // per shard: ended; its late replies are ignored
	done  []uint32 // per shard: batch sequences 1..done are stored
	offs  []uint32 // per shard: where its indices start in index
	index []uint32 // message index by (shard, batch sequence - 1)
}

// planFast chooses the shards whose first send is a fast batch. The caller
// holds nothing; b is not shared yet.
func (b *pubBatch) planFast(batched func(shard int) bool) {
	if b.batchID != "" || b.seqs != nil {
		return
	}
	var on []bool
	for k, n := range b.perShard {
		if n >= fastMin && batched(k) {
			if on == nil {
				on = make([]bool, len(b.perShard))
			}
			on[k] = true
		}
	}
	if on == nil {
		return
	}
	f := &fastState{on: on, over: make([]bool, len(on)), done: make([]uint32, len(on)),
		offs: make([]uint32, len(on)), index: make([]uint32, len(b.msgs))}
	var off uint32
	for k, n := range b.perShard {
		f.offs[k] = off
		off += n
	}
	for i := range b.msgs {
		m := &b.msgs[i]
		f.index[f.offs[m.shard]+m.part] = uint32(i)
	}
	b.fast = f
}

// sendsFast says whether message j goes out in its shard's fast batch: only its
// first send, and only while that batch runs. The caller holds b.mu.
func (b *pubBatch) sendsFast(j int) bool {
	k := b.msgs[j].shard
	return b.fast != nil && b.fast.on[k] && !b.fast.over[k] && b.sends[j] == 1
}

// endFastAll ends every fast batch of the call before a resend round: what
// they left unconfirmed is sent per message from now on. The caller holds b.mu.
func (b *pubBatch) endFastAll() {
	if b.fast == nil {
		return
	}
	for k := range b.fast.on {
		if b.fast.on[k] && !b.fast.over[k] {
			b.fast.over[k] = true
		}
	}
}

// publishFast sends message j of b as batch sequence part+1 of its shard's fast
// batch, with the reply subject
// <acks prefix>f<batch>.<shard>.<batch id>.<flow>.fail.<sequence>.<op>.$FI.
// The batch id, <nonce>x<batch>, is unique among this handle's calls and,
// with the handle's random nonce, among other publishers of the stream.
func (o *outMsg) publishFast(p *publisher, b *pubBatch, j int) error {
	m := &b.msgs[j]
	seq := uint64(m.part) + 1
	op := fastOpAppend
	switch {
	case seq == uint64(b.perShard[m.shard]):
		op = fastOpCommit
	case seq == 1:
		op = fastOpStart
	}
	r := append(o.fastReply[:0], p.acks.prefix...)
	r = append(r, 'f')
	r = strconv.AppendUint(r, b.id, 10)
	r = append(r, '.')
	r = strconv.AppendUint(r, uint64(m.shard), 10)
	r = append(r, '.')
	r = strconv.AppendUint(r, p.nonce, 16)
	r = append(r, 'x')
	r = strconv.AppendUint(r, b.id, 10)
	r = append(r, '.')
	r = strconv.AppendInt(r, fastFlow, 10)
	r = append(r, ".fail."...)
	r = strconv.AppendUint(r, seq, 10)
	r = append(r, '.')
	r = strconv.AppendInt(r, int64(op), 10)
	r = append(r, fastSuffix...)
	o.fastReply = r
	o.id = b.appendMsgID(o.id[:0], p.nonce, m)
	o.msg.Subject = p.subjects[m.shard]
	// As in publish: nats.go copies these before PublishMsg returns.
	o.msg.Reply = unsafe.String(unsafe.SliceData(r), len(r))
	o.hdrVal[0] = unsafe.String(unsafe.SliceData(o.id), len(o.id))
	o.msg.Data = m.rec
	return p.nc.PublishMsg(o.msg)
}

// fastReply is one answer to a fast batch message.
type fastReply struct {
	kind     string // "ack", "gap", "err", or "" for a PubAck or a refusal
	seq      uint64 // batch sequence (flow ack, gap, err) or stream sequence (PubAck)
	count    uint64 // PubAck: batch sequences 1..count were handled
	batch    bool   // PubAck of the batch (it has "batch")
	dup      bool
	errObj   []byte
	noAnswer bool // a 503 status: no stream answered
}

func parseFastReply(m *nats.Msg) (r fastReply, ok bool) {
	if len(m.Data) == 0 {
		r.noAnswer = m.Header.Get("Status") == "503"
		return r, r.noAnswer
	}
	err := eachFieldRaw(m.Data, func(key, v []byte) error {
		switch string(key) {
		case "type":
			r.kind = string(v)
			if len(r.kind) >= 2 {
				r.kind = r.kind[1 : len(r.kind)-1]
			}
		case "seq":
			r.seq, _ = parseUintDec(v)
		case "count":
			r.count, _ = parseUintDec(v)
		case "batch":
			r.batch = true
		case "duplicate":
			r.dup = string(v) == "true"
		case "error":
			r.errObj = v
		}
		return nil
	})
	return r, err == nil
}

// onFast takes the server's answer on the fast batch of shard k.
func (b *pubBatch) onFast(k int, m *nats.Msg, streams *streamSet) {
	r, ok := parseFastReply(m)
	b.mu.Lock()
	f := b.fast
	if f == nil || k >= len(f.on) || !f.on[k] || f.over[k] {
		b.mu.Unlock()
		return // a late answer: per-message sends took over
	}
	switch {
	case !ok:
		b.refusal = NewError(CodeTransient, "malformed fast batch reply %q", clip(m.Data))
		b.endFast(k)
	case r.noAnswer:
		b.refusal = errNoResponders
		b.gone[k] = true
		b.endFast(k)
	case r.kind == "ack":
		b.confirmFast(k, r.seq)
	case r.kind == "gap" || r.kind == "err":
		// The batch ends; the PubAck that follows says how far it got.
		if r.errObj != nil {
			b.refusal = decodeAPIError(r.errObj)
		}
	case r.errObj != nil:
		b.refusal = decodeAPIError(r.errObj)
		if fastErrCode(r.errObj) == batchDisabled {
			streams.notBatched(k)
		}
		b.endFast(k)
	case r.batch:
		if r.dup && r.count == 1 {
			// The batch's first message was a duplicate and ended it.
			if idx := int(f.index[f.offs[k]]); b.state[idx] == stSent {
				b.inflight--
				b.stored(idx, r.seq, true)
				f.done[k] = 1
			}
		}
		b.confirmFast(k, r.count)
		b.endFast(k)
		if r.seq > 0 && b.seen != nil {
			b.seen(k, r.seq)
		}
	}
	b.lastAck = time.Now()
	wake := b.inflight == 0 || (b.wantRoom && b.inflight <= publishWindow/2)
	b.mu.Unlock()
	if wake {
		b.wake()
	}
}

// confirmFast marks batch sequences up to upto of shard k stored. The caller
// holds b.mu.
func (b *pubBatch) confirmFast(k int, upto uint64) {
	f := b.fast
	upto = min(upto, uint64(b.perShard[k]))
	for s := uint64(f.done[k]) + 1; s <= upto; s++ {
		if idx := int(f.index[f.offs[k]+uint32(s)-1]); b.state[idx] == stSent {
			b.inflight--
			b.stored(idx, 0, false)
		}
	}
	f.done[k] = uint32(max(uint64(f.done[k]), upto))
}

// endFast ends shard k's fast batch: what it sent and did not confirm is sent
// again per message. The caller holds b.mu.
func (b *pubBatch) endFast(k int) {
	f := b.fast
	f.over[k] = true
	for s := f.done[k]; s < b.perShard[k]; s++ {
		if idx := int(f.index[f.offs[k]+s]); b.state[idx] == stSent {
			b.state[idx] = stRetry
			b.inflight--
		}
	}
}

func fastErrCode(errObj []byte) int {
	var e apiErrorJSON
	_ = json.Unmarshal(errObj, &e)
	return e.ErrCode
}
