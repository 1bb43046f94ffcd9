package core

import (
	"strconv"
	"sync/atomic"
)

type counters struct {
	published  atomic.Uint64
	duplicates atomic.Uint64
	polled     atomic.Uint64
	skipped    atomic.Uint64
	errors     [7]atomic.Uint64 // by errorCodes index
}

// errorCodes are the codes a bus can count; invalid_handle is answered before
// any bus is found, so no bus sees it.
var errorCodes = [7]Code{CodeInvalidArgument, CodeConnection, CodeTransient,
	CodeFatal, CodeTooLarge, CodeShutdown, CodeInternal}

func (c *counters) countError(code Code) {
	for i, k := range errorCodes {
		if k == code {
			c.errors[i].Add(1)
		}
	}
}

// Stats returns the counters, the shard count, the server (URL redacted) and
// health as JSON.
func (b *Bus) Stats() ([]byte, error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.exit()
	s := &b.stats
	out := make([]byte, 0, 512)
	out = append(out, `{"published":`...)
	out = strconv.AppendUint(out, s.published.Load(), 10)
	out = append(out, `,"duplicates":`...)
	out = strconv.AppendUint(out, s.duplicates.Load(), 10)
	out = append(out, `,"polled":`...)
	out = strconv.AppendUint(out, s.polled.Load(), 10)
	out = append(out, `,"skipped":`...)
	out = strconv.AppendUint(out, s.skipped.Load(), 10)
	out = append(out, `,"errors":{`...)
	for i, code := range errorCodes {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, code.String()...)
		out = append(out, `":`...)
		out = strconv.AppendUint(out, s.errors[i].Load(), 10)
	}
	out = append(out, `},"shards":`...)
	out = strconv.AppendInt(out, int64(b.cfg.Shards), 10)
	out = append(out, `,"prefix":`...)
	out = appendJSONString(out, b.cfg.Prefix)
	out = append(out, `,"embedded":`...)
	out = strconv.AppendBool(out, b.cfg.URL == "")
	out = append(out, `,"server":{"url":`...)
	out = appendJSONString(out, b.js.serverLabel())
	out = append(out, `,"version":`...)
	out = appendJSONString(out, b.js.version)
	out = append(out, `,"batched_reads":`...)
	out = strconv.AppendBool(out, b.js.batchGet.Load())
	out = append(out, `},"healthy":`...)
	out = strconv.AppendBool(out, b.js.IsHealthy())
	out = append(out, '}')
	return out, nil
}
