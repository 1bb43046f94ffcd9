package core

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
	"sync"
)

// The cursor is standard base64 of {"<shard>":"<last seq read>"}, as net-mesh's
// CompositeCursor. Keys are canonical decimal shard ids below the shard count.

const seqMax = ^uint64(0) // parks a shard at its end

// cursorPos holds one position per shard; set says which the cursor named.
type cursorPos struct {
	seq []uint64
	set []bool
}

func newCursorPos(shards int) cursorPos {
	return cursorPos{seq: make([]uint64, shards), set: make([]bool, shards)}
}

func decodeCursor(s string, shards int) (cursorPos, error) {
	c := newCursorPos(shards)
	if s == "" {
		return c, nil
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return c, NewError(CodeInvalidArgument, "cursor is not standard base64")
	}
	if _, err := checkJSON("cursor", data); err != nil || len(data) == 0 {
		return c, NewError(CodeInvalidArgument, "cursor does not decode to a JSON object")
	}
	if bytes.HasPrefix(data, []byte(`{"g":`)) {
		return c, NewError(CodeInvalidArgument, "cursor is a group poll's next_cursor: poll with its group instead, or pass it to mesh_commit")
	}
	// Keys are canonical decimals below shards, so c.set finds a repeated one
	// without a set of strings: a cursor of 1024 shards stays cheap.
	err = eachFieldRaw(data, func(rawKey, v []byte) error {
		key := rawKey
		if bytes.IndexByte(rawKey, '\\') >= 0 {
			s, ok := unquote(rawKey)
			if !ok {
				return NewError(CodeInvalidArgument, "cursor: malformed key")
			}
			key = []byte(s)
		}
		k, ok := parseUintDec(key)
		if !ok || k >= uint64(shards) {
			return NewError(CodeInvalidArgument, "cursor names shard %q: shard keys are canonical decimals in 0..%d", clip(key), shards-1)
		}
		if c.set[k] {
			return NewError(CodeInvalidArgument, "cursor: field %q appears twice", key)
		}
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return NewError(CodeInvalidArgument, "cursor position of shard %d must be a decimal string", k)
		}
		str := v[1 : len(v)-1]
		if bytes.IndexByte(str, '\\') >= 0 {
			s, ok := unquote(str)
			if !ok {
				return NewError(CodeInvalidArgument, "cursor position of shard %d must be a decimal string", k)
			}
			str = []byte(s)
		}
		seq, ok := parseUintDec(str)
		if !ok {
			return NewError(CodeInvalidArgument, "cursor position of shard %d is not a u64 in decimal: %q", k, clip(str))
		}
		c.seq[k], c.set[k] = seq, true
		return nil
	})
	if err == errMalformed {
		err = NewError(CodeInvalidArgument, "cursor: must be a JSON object")
	}
	return c, err
}

// appendCursor appends the quoted base64 cursor of every set position.
func appendCursor(dst []byte, c cursorPos) []byte {
	js := make([]byte, 0, 32*len(c.seq)+2)
	js = append(js, '{')
	first := true
	for k, ok := range c.set {
		if !ok {
			continue
		}
		if !first {
			js = append(js, ',')
		}
		first = false
		js = append(js, '"')
		js = strconv.AppendInt(js, int64(k), 10)
		js = append(js, `":"`...)
		js = strconv.AppendUint(js, c.seq[k], 10)
		js = append(js, '"')
	}
	js = append(js, '}')
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, js)
	return append(dst, '"')
}

func itoa(n int) string { return strconv.Itoa(n) }

// cursorCache holds the cursors this handle wrote last, so a consumer that
// hands its next_cursor back (a tail loop) costs no parse, and a poll that
// moves nothing costs no encode: at 1024 shards a cursor is about 15 KB.
type cursorCache struct {
	mu   sync.Mutex
	ring [4]cachedCursor
	next int
	pool sync.Pool // *cursorPos
}

type cachedCursor struct {
	quoted []byte // as written in a response, with its quotes
	pos    cursorPos
}

// decode is decodeCursor, from the cache when s is one of its cursors. Give
// the result back with release once it is encoded.
func (cc *cursorCache) decode(s []byte, shards int) (cursorPos, error) {
	if len(s) > 64 {
		cc.mu.Lock()
		for _, e := range cc.ring {
			if len(e.quoted) == len(s)+2 && string(e.quoted[1:len(e.quoted)-1]) == string(s) {
				pos := cc.newPos(shards)
				copy(pos.seq, e.pos.seq)
				copy(pos.set, e.pos.set)
				cc.mu.Unlock()
				return pos, nil
			}
		}
		cc.mu.Unlock()
	}
	return decodeCursor(string(s), shards)
}

// newPos takes a position from the pool: at 1024 shards an empty poll would
// otherwise allocate one per call.
func (cc *cursorCache) newPos(shards int) cursorPos {
	if p, ok := cc.pool.Get().(*cursorPos); ok && len(p.seq) == shards {
		return *p
	}
	return newCursorPos(shards)
}

// release gives pos back to the pool; pos is not used after it.
func (cc *cursorCache) release(pos cursorPos) {
	cc.pool.Put(&pos)
}

// quoted is appendCursor of pos, from the cache when it holds pos.
func (cc *cursorCache) quoted(pos cursorPos) []byte {
	if len(pos.seq) <= 4 {
		return appendCursor(nil, pos)
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, e := range cc.ring {
		if slices.Equal(e.pos.seq, pos.seq) && slices.Equal(e.pos.set, pos.set) {
			return e.quoted
		}
	}
	q := appendCursor(nil, pos)
	cc.ring[cc.next] = cachedCursor{quoted: q, pos: cursorPos{seq: slices.Clone(pos.seq), set: slices.Clone(pos.set)}}
	cc.next = (cc.next + 1) % len(cc.ring)
	return q
}
