package core

import "time"

// publishRequest is a parsed mesh_publish_batch request; events are spans of
// the request bytes, never copied.
type publishRequest struct {
	events  [][]byte
	shard   int // -1: route by hash
	batchID string
	timeout time.Duration
	acks    bool
}

// Publish stores a batch of events and returns once JetStream acknowledged each.
func (b *Bus) Publish(request []byte) (out []byte, err error) {
	start := time.Now()
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.exit()
	defer func() { err = b.result(err) }()

	req, err := b.parsePublish(request)
	if err != nil {
		return nil, err
	}
	batch := newPubBatch(req, b.cfg.Shards)
	if len(req.events) == 0 {
		return batch.encodeResponse(), nil
	}
	ctx, cancel := b.deadlineFrom(start, req.timeout)
	defer cancel()
	if err := b.js.streams.ensureAll(ctx, batch.perShard); err != nil {
		return nil, err
	}
	if err := b.js.pub.publish(ctx, batch, b.clock, b.log); err != nil {
		if b.ctx.Err() != nil {
			return nil, errShutdown
		}
		return nil, err
	}
	b.stats.published.Add(uint64(len(batch.msgs) - batch.dups))
	b.stats.duplicates.Add(uint64(batch.dups))
	return batch.encodeResponse(), nil
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
		if isNull(v) && (key == "shard" || key == "batch_id" || key == "timeout_ms") {
			return nil // absent
		}
		var err error
		var n int64
		switch key {
		case "events":
			haveEvents = true
			r.events, err = parseEvents(v)
		case "shard":
			n, err = intField("shard", v, 0, int64(b.cfg.Shards-1))
			r.shard = int(n)
		case "batch_id":
			r.batchID, err = patternField("batch_id", v, batchIDRe, "[A-Za-z0-9_.:-]{1,128}")
		case "timeout_ms":
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

// parseEvents returns the spans of the events array: the one place where reading
// in place pays, since events are stored as given.
func parseEvents(v []byte) ([][]byte, error) {
	if isNull(v) {
		return nil, NewError(CodeInvalidArgument, "publish request: events must be an array, got null")
	}
	events := make([][]byte, 0, min(len(v)/16+1, 1024))
	err := eachElement("events", v, func(i int, ev []byte) error {
		if isNull(ev) {
			return NewError(CodeInvalidArgument, "events[%d] is null", i)
		}
		events = append(events, ev)
		return nil
	})
	return events, err
}
