package core

import (
	"bytes"
	"encoding/base64"
	"strconv"
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
	err = eachField("cursor", data, func(key string, v []byte) error {
		k, ok := parseUintDec([]byte(key))
		if !ok || k >= uint64(shards) {
			return NewError(CodeInvalidArgument, "cursor names shard %q: shard keys are canonical decimals in 0..%d", clip([]byte(key)), shards-1)
		}
		str, ok := unquoteValue(v)
		if !ok {
			return NewError(CodeInvalidArgument, "cursor position of shard %d must be a decimal string", k)
		}
		seq, ok := parseUintDec([]byte(str))
		if !ok {
			return NewError(CodeInvalidArgument, "cursor position of shard %d is not a u64 in decimal: %q", k, clip([]byte(str)))
		}
		c.seq[k], c.set[k] = seq, true
		return nil
	})
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
