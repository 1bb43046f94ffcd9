package core

import (
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
)

// A group's positions as stored ({"<shard>":["<seq>","<epoch>"],…} under
// g.<group>.p.<member>) and as a group poll's next_cursor (standard base64 of
// {"g":"<group>","m":"<member>","s":<positions>}). Both are read and written
// by hand: a commit parses one and writes the other on every poll.

// memberPos is a committed position of a shard at an epoch.
type memberPos struct{ seq, epoch uint64 }

// groupCursor is what a group poll's next_cursor holds and a commit takes.
type groupCursor struct {
	group, member string
	shards        map[int]memberPos
}

// appendPositions appends ps in shard order.
func appendPositions(dst []byte, ps map[int]memberPos) []byte {
	dst = append(dst, '{')
	for i, k := range slices.Sorted(maps.Keys(ps)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(strconv.AppendInt(append(dst, '"'), int64(k), 10), `":["`...)
		dst = append(strconv.AppendUint(dst, ps[k].seq, 10), `","`...)
		dst = append(strconv.AppendUint(dst, ps[k].epoch, 10), `"]`...)
	}
	return append(dst, '}')
}

// parsePositions reads positions strictly: canonical shard keys, each a pair
// of decimal strings. Keys at or past shards are left out, or refused when
// strict.
func parsePositions(data []byte, shards int, strict bool) (map[int]memberPos, bool) {
	ps := map[int]memberPos{}
	err := eachField("positions", data, func(key string, v []byte) error {
		k, ok := parseUintDec([]byte(key))
		if !ok || (strict && k >= uint64(shards)) {
			return errMalformed
		}
		var pair [2]uint64
		n := 0
		err := eachElement("position", v, func(i int, elem []byte) error {
			s, ok := unquoteValue(elem)
			if i >= 2 || !ok {
				return errMalformed
			}
			if pair[i], ok = parseUintDec([]byte(s)); !ok {
				return errMalformed
			}
			n++
			return nil
		})
		if err != nil || n != 2 {
			return errMalformed
		}
		if k < uint64(shards) {
			ps[int(k)] = memberPos{pair[0], pair[1]}
		}
		return nil
	})
	return ps, err == nil
}

// encode is the cursor's text; group and member names need no escaping.
func (c groupCursor) encode() []byte {
	js := make([]byte, 0, 32+len(c.group)+len(c.member)+32*len(c.shards))
	js = append(append(append(js, `{"g":"`...), c.group...), `","m":"`...)
	js = append(append(js, c.member...), `","s":`...)
	js = append(appendPositions(js, c.shards), '}')
	return base64.StdEncoding.AppendEncode(nil, js)
}

// decodeGroupCursor reads a group poll's next_cursor strictly: a plain
// cursor, or anything else, is invalid_argument.
func decodeGroupCursor(s string, shards int) (groupCursor, error) {
	var c groupCursor
	bad := NewError(CodeInvalidArgument, "cursor is not the next_cursor of a group poll")
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return c, bad
	}
	err = eachField("cursor", data, func(key string, v []byte) error {
		var ok bool
		switch key {
		case "g":
			c.group, ok = unquoteValue(v)
		case "m":
			c.member, ok = unquoteValue(v)
		case "s":
			c.shards, ok = parsePositions(v, shards, true)
		}
		if !ok {
			return bad
		}
		return nil
	})
	if err != nil || c.group == "" || c.member == "" || c.shards == nil {
		return c, bad
	}
	return c, nil
}
