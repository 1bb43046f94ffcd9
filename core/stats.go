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
	errors     [len(codeTable)]atomic.Uint64 // by codeTable index
}

// countedCode says which codes stats lists: not ok, and not invalid_handle,
// which is answered before any bus is found.
func countedCode(c Code) bool { return c != CodeOK && c != CodeInvalidHandle }

func (c *counters) countError(code Code) {
	for i, row := range codeTable {
		if row.Code == code {
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
	first := true
	for i, row := range codeTable {
		if !countedCode(row.Code) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, row.Name...)
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
	out = strconv.AppendBool(out, b.js.healthy())
	out = append(out, '}')
	return out, nil
}
