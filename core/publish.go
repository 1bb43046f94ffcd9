package core

import (
	"strconv"
	"sync"
	"time"
)

// publishRequest is a parsed mesh_publish_batch request; events are spans of
// the request bytes, never copied.
type publishRequest struct {
	events  [][]byte
	shard   int // -1: route by hash
	batchID string
	timeout time.Duration
	acks    bool
}

func (b *Bus) parsePublish(data []byte) (publishRequest, error) {
	r := publishRequest{shard: -1, timeout: b.cfg.RequestTimeout}
	if len(data) > b.cfg.MaxRequestBytes {
		return r, NewError(CodeTooLarge, "publish request is %d bytes, over max_request_bytes %d", len(data), b.cfg.MaxRequestBytes)
	}
	data, err := checkJSON("publish request", data)
	if err != nil {
		return r, err
	}
	haveEvents := false
	err = eachField("publish request", data, func(key string, v []byte) error {
		var err error
		var n int64
		switch key {
		case "events":
			haveEvents = true
			if isNull(v) {
				return NewError(CodeInvalidArgument, "publish request: events must be an array, got null")
			}
			r.events = make([][]byte, 0, min(len(v)/16+1, 1024))
			err = eachElement("events", v, func(i int, ev []byte) error {
				if isNull(ev) {
					return NewError(CodeInvalidArgument, "events[%d] is null", i)
				}
				r.events = append(r.events, ev)
				return nil
			})
		case "shard":
			if isNull(v) {
				return nil
			}
			n, err = intField("shard", v, 0, int64(b.cfg.Shards-1))
			r.shard = int(n)
		case "batch_id":
			if isNull(v) {
				return nil
			}
			r.batchID, err = stringField("batch_id", v)
			if err == nil && !batchIDRe.MatchString(r.batchID) {
				err = NewError(CodeInvalidArgument, "batch_id must match [A-Za-z0-9_.:-]{1,128}, got %q", clip([]byte(r.batchID)))
			}
		case "timeout_ms":
			if isNull(v) {
				return nil
			}
			n, err = intField("timeout_ms", v, 1, maxTimeoutMs)
			r.timeout = time.Duration(n) * time.Millisecond
		case "acks":
			r.acks, err = boolField("acks", v)
		default:
			err = unknownField("publish request", key)
		}
		return err
	})
	if err == nil && !haveEvents {
		err = NewError(CodeInvalidArgument, "publish request: events is required")
	}
	return r, err
}

// maxPayload is the server's limit for one message, headers included.
func (b *Bus) maxPayload() int {
	if mp := b.js.nc.MaxPayload(); mp > 0 {
		return int(mp)
	}
	return 1 << 20
}

var recBufPool = sync.Pool{New: func() any { return new([]byte) }}

// stamp gives each event its timestamp (increasing per shard within the handle)
// and its shard's send count S, and writes the records into buf. The caller
// holds clockMu.
func (b *Bus) stamp(req publishRequest, batch *pubBatch, perShard []uint32, buf []byte, total int) ([]byte, error) {
	now := uint64(time.Now().UnixNano())
	next := make([]uint64, len(perShard))
	for k, c := range perShard {
		if c == 0 {
			continue
		}
		t := now
		if t <= b.lastTS[k] {
			t = b.lastTS[k] + 1
		}
		next[k] = t
		b.lastTS[k] = t + uint64(c) - 1
		batch.starts[k] = b.sent[k]
		b.sent[k] += uint64(c)
	}
	if cap(buf) < total {
		buf = make([]byte, 0, total)
	}
	limit := b.maxPayload()
	for i, ev := range req.events {
		m := &batch.msgs[i]
		k := int(m.shard)
		ts := next[k]
		next[k]++
		size := recordLen(ev, ts, k) + len("NATS/1.0\r\nNats-Msg-Id: \r\n\r\n") +
			msgIDLen(req.batchID, b.js.nonceHexLen, k, batch.starts[k], int(m.part))
		if size > limit {
			return buf, NewError(CodeTooLarge, "events[%d]: stored message of %d bytes is over the server's max_payload %d", i, size, limit)
		}
		start := len(buf)
		buf = appendRecord(buf, ev, ts, k)
		m.rec = buf[start:len(buf):len(buf)]
	}
	return buf, nil
}

// Publish stores a batch of events and returns once JetStream acknowledged each.
func (b *Bus) Publish(request []byte) (out []byte, err error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.exit()
	defer func() { err = b.result(err) }()

	req, err := b.parsePublish(request)
	if err != nil {
		return nil, err
	}
	n := len(req.events)
	if n == 0 {
		return []byte(`{"published":0,"duplicates":0}`), nil
	}
	shards := b.cfg.Shards

	// Route, and size one buffer for every record.
	msgs := make([]pubMsg, n)
	perShard := make([]uint32, shards)
	total := 0
	for i, ev := range req.events {
		k := req.shard
		if k < 0 {
			k = 0
			if shards > 1 {
				k = routeShard(ev, shards)
			}
		}
		msgs[i].shard = uint32(k)
		if req.batchID != "" {
			msgs[i].part = uint32(i)
		} else {
			msgs[i].part = perShard[k]
		}
		perShard[k]++
		total += len(ev) + 48
	}

	ctx, cancel := b.deadline(req.timeout)
	defer cancel()
	for k, c := range perShard {
		if c > 0 {
			if err := b.js.ensureStream(ctx, k); err != nil {
				return nil, err
			}
		}
	}

	bufp := recBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= 8<<20 {
			recBufPool.Put(bufp)
		}
	}()
	batch := &pubBatch{batchID: req.batchID, starts: make([]uint64, shards), msgs: msgs}
	if req.acks {
		batch.seqs = make([]uint64, n)
	}
	b.js.startBatch(batch)
	defer b.js.acks.unregister(batch)
	b.clockMu.Lock()
	*bufp, err = b.stamp(req, batch, perShard, (*bufp)[:0], total)
	if err == nil {
		if err = b.js.sendPending(ctx, batch); err == errSendAgain {
			err = nil // OnBatch sends it again
		}
	}
	b.clockMu.Unlock()
	if err == nil {
		err = b.js.OnBatch(ctx, batch)
	}
	if err != nil {
		if ctx.Err() != nil && b.ctx.Err() != nil {
			return nil, errShutdown
		}
		return nil, err
	}
	dups := batch.dups
	b.stats.published.Add(uint64(n - dups))
	b.stats.duplicates.Add(uint64(dups))

	out = make([]byte, 0, 40+n*48*btoi(req.acks))
	out = append(out, `{"published":`...)
	out = strconv.AppendInt(out, int64(n-dups), 10)
	out = append(out, `,"duplicates":`...)
	out = strconv.AppendInt(out, int64(dups), 10)
	if req.acks {
		out = append(out, `,"acks":[`...)
		for i := range msgs {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"shard":`...)
			out = strconv.AppendUint(out, uint64(msgs[i].shard), 10)
			out = append(out, `,"seq":"`...)
			out = strconv.AppendUint(out, batch.seqs[i], 10)
			out = append(out, `","duplicate":`...)
			out = strconv.AppendBool(out, batch.state[i] == stDuplicate)
			out = append(out, '}')
		}
		out = append(out, ']')
	}
	return append(out, '}'), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
