package core

import (
	"strconv"
	"unicode/utf8"
)

// A stored record is {"r":<event>,"t":<ns>,"s":<shard>}, byte-compatible with
// net-mesh: r is the event exactly as given, never re-encoded.

func appendRecord(dst, event []byte, ts uint64, shard int) []byte {
	dst = append(dst, `{"r":`...)
	dst = append(dst, event...)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendUint(dst, ts, 10)
	dst = append(dst, `,"s":`...)
	dst = strconv.AppendInt(dst, int64(shard), 10)
	return append(dst, '}')
}

func recordLen(event []byte, ts uint64, shard int) int {
	return len(`{"r":,"t":,"s":}`) + len(event) + decLen(ts) + decLen(uint64(shard))
}

func decLen(n uint64) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

type recordKind uint8

const (
	recordGood        recordKind = iota
	recordUnparseable            // not JSON, or t/s not unsigned integers: skipped
	recordCorrupt                // r null or missing, or s not this stream's shard
)

// decodeRecord extracts r and t from a stored record of shard. why explains a
// corrupt record.
func decodeRecord(data []byte, shard int) (raw []byte, ts uint64, kind recordKind, why string) {
	// JSON validators accept invalid UTF-8 inside strings; a response must not.
	if !utf8.Valid(data) {
		return nil, 0, recordUnparseable, ""
	}
	if raw, ts, s, ok := decodeRecordFast(data); ok {
		if s != uint64(shard) {
			return nil, 0, recordCorrupt, "s is " + strconv.FormatUint(s, 10)
		}
		return raw, ts, recordGood, ""
	}
	if !validJSON(data) {
		return nil, 0, recordUnparseable, ""
	}
	var s uint64
	haveR, haveS := false, false
	bad := false
	err := eachFieldRaw(data, func(key, v []byte) error {
		switch string(key) {
		case "r":
			raw, haveR = v, true
		case "t":
			n, ok := parseUintDec(v)
			ts, bad = n, bad || !ok
		case "s":
			n, ok := parseUintDec(v)
			s, haveS, bad = n, true, bad || !ok
		}
		return nil
	})
	if err != nil || bad {
		return nil, 0, recordUnparseable, ""
	}
	switch {
	case !haveR:
		return nil, 0, recordCorrupt, "r is missing"
	case isNull(raw):
		return nil, 0, recordCorrupt, "r is null"
	case !haveS:
		return nil, 0, recordCorrupt, "s is missing"
	case s != uint64(shard):
		return nil, 0, recordCorrupt, "s is " + strconv.FormatUint(s, 10)
	}
	return raw, ts, recordGood, ""
}

// decodeRecordFast handles the exact shape this library and net-mesh write,
// reading t and s from the tail so the event bytes are only validated once.
func decodeRecordFast(d []byte) (raw []byte, ts, s uint64, ok bool) {
	const head = `{"r":`
	if len(d) < len(head)+len(`0,"t":0,"s":0}`) || string(d[:len(head)]) != head || d[len(d)-1] != '}' {
		return nil, 0, 0, false
	}
	i := len(d) - 1
	j := i
	for j > 0 && d[j-1] >= '0' && d[j-1] <= '9' {
		j--
	}
	s, ok = parseUintDec(d[j:i])
	if !ok || j < 5 || string(d[j-5:j]) != `,"s":` {
		return nil, 0, 0, false
	}
	i = j - 5
	j = i
	for j > 0 && d[j-1] >= '0' && d[j-1] <= '9' {
		j--
	}
	ts, ok = parseUintDec(d[j:i])
	if !ok || j < 5+len(head) || string(d[j-5:j]) != `,"t":` {
		return nil, 0, 0, false
	}
	raw = d[len(head) : j-5]
	if isNull(raw) || !validJSON(raw) {
		return nil, 0, 0, false
	}
	return raw, ts, s, true
}
