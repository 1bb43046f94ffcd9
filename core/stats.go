package core

import (
	"slices"
	"strconv"
	"strings"
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
	if ws := b.js.websocketURL(); ws != "" {
		out = append(out, `,"websocket_url":`...)
		out = appendJSONString(out, ws)
	}
	out = append(out, `},"healthy":`...)
	out = strconv.AppendBool(out, b.js.healthy())
	out = b.groups.appendStats(out)
	out = append(out, '}')
	return out, nil
}

// appendStats appends ,"groups":[…] for the groups this handle is in: member,
// assigned shards, and per shard the committed position and the events behind
// it as far as this handle knows (from its polls; stats asks the server nothing).
func (s *groupSet) appendStats(out []byte) []byte {
	s.mu.Lock()
	groups := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.Unlock()
	if len(groups) == 0 {
		return out
	}
	slices.SortFunc(groups, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	out = append(out, `,"groups":[`...)
	for i, g := range groups {
		if i > 0 {
			out = append(out, ',')
		}
		out = g.appendStats(out)
	}
	return append(out, ']')
}

func (g *group) appendStats(out []byte) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	out = append(out, `{"group":`...)
	out = appendJSONString(out, g.name)
	out = append(out, `,"member":`...)
	out = appendJSONString(out, g.member)
	var assigned []int
	for k, rec := range g.records {
		if rec.Owner == g.member {
			assigned = append(assigned, k)
		}
	}
	out = appendInts(append(out, `,"assigned":`...), assigned)
	out = append(out, `,"shards":[`...)
	for i, k := range assigned {
		if i > 0 {
			out = append(out, ',')
		}
		committed, _ := g.committed(k)
		out = append(out, `{"shard":`...)
		out = strconv.AppendInt(out, int64(k), 10)
		out = append(out, `,"committed":"`...)
		out = strconv.AppendUint(out, committed, 10)
		out = append(out, `","lag":`...)
		out = strconv.AppendUint(out, g.last[k]-min(committed, g.last[k]), 10)
		out = append(out, '}')
	}
	return append(out, "]}"...)
}
