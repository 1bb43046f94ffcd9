package core

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// The request parsers share this strict reader: the input is checked once for UTF-8
// and JSON validity, then walked by spans so event bytes are never copied or
// re-encoded. Every message names the field and, for numbers, the allowed range.

// validJSON uses goccy/go-json's validator, the faster of the two in
// BenchmarkValidate; FuzzValidAgrees checks it against encoding/json's.
func validJSON(b []byte) bool { return gojson.Valid(b) }

// checkJSON validates a whole request; empty input means {}.
func checkJSON(what string, data []byte) ([]byte, error) {
	data = trimJSONSpace(data)
	if len(data) == 0 {
		return []byte("{}"), nil
	}
	if !utf8.Valid(data) {
		return nil, NewError(CodeInvalidArgument, "%s: invalid UTF-8", what)
	}
	if !validJSON(data) {
		return nil, NewError(CodeInvalidArgument, "%s: invalid JSON", what)
	}
	if data[0] != '{' {
		return nil, NewError(CodeInvalidArgument, "%s: must be a JSON object", what)
	}
	return data, nil
}

// trimJSONSpace trims the four whitespace bytes JSON allows, and no others.
func trimJSONSpace(d []byte) []byte {
	i, j := 0, len(d)
	for i < j && isSpace(d[i]) {
		i++
	}
	for j > i && isSpace(d[j-1]) {
		j--
	}
	return d[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at d[i], or -1 when
// the input is malformed. It does not validate; it never reads out of bounds.
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				if i = skipString(d, i); i < 0 {
					return -1
				}
				i-- // the loop steps past the closing quote
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		start := i
		for i < len(d) {
			c := d[i]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

func skipString(d []byte, i int) int {
	i++ // opening quote
	for i < len(d) {
		// IndexByte for the closing quote; a backslash run before it decides
		// whether it is escaped.
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return -1
		}
		end := i + j
		bs := 0
		for k := end - 1; k >= i && d[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return end + 1
		}
		i = end + 1
	}
	return -1
}

// errMalformed is returned by the raw walkers; callers add context.
var errMalformed = NewError(CodeInvalidArgument, "malformed JSON")

// eachFieldRaw calls fn for each member of the object d with the key's bytes as
// written (quotes removed, escapes kept) and the value's span. It never panics on
// malformed input, so it also serves server replies that were not validated.
func eachFieldRaw(d []byte, fn func(key, val []byte) error) error {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return errMalformed
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return nil
	}
	for i < len(d) {
		if d[i] != '"' {
			return errMalformed
		}
		end := skipString(d, i)
		if end < 0 || end > len(d) {
			return errMalformed
		}
		key := d[i+1 : end-1]
		i = skipSpace(d, end)
		if i >= len(d) || d[i] != ':' {
			return errMalformed
		}
		i = skipSpace(d, i+1)
		vend := skipValue(d, i)
		if vend < 0 || vend > len(d) {
			return errMalformed
		}
		if err := fn(key, d[i:vend]); err != nil {
			return err
		}
		i = skipSpace(d, vend)
		if i >= len(d) {
			break
		}
		if d[i] == '}' {
			return nil
		}
		if d[i] != ',' {
			return errMalformed
		}
		i = skipSpace(d, i+1)
	}
	return errMalformed
}

// eachField calls fn for each member of the object d with the key unescaped.
// Duplicate keys are an error: a request must mean one thing. A cursor may hold
// 1024 keys, so past a few the keys seen go into a set.
func eachField(what string, d []byte, fn func(key string, val []byte) error) error {
	var few [16]string
	seen := few[:0]
	var many map[string]struct{}
	err := eachFieldRaw(d, func(rawKey, v []byte) error {
		key, ok := unquote(rawKey)
		if !ok {
			return NewError(CodeInvalidArgument, "%s: malformed key", what)
		}
		if seenBefore(&seen, &many, key) {
			return NewError(CodeInvalidArgument, "%s: field %q appears twice", what, key)
		}
		return fn(key, v)
	})
	if err == errMalformed {
		return NewError(CodeInvalidArgument, "%s: must be a JSON object", what)
	}
	return err
}

// seenBefore records key and reports whether it was there already.
func seenBefore(seen *[]string, many *map[string]struct{}, key string) bool {
	if *many == nil {
		for _, k := range *seen {
			if k == key {
				return true
			}
		}
		if len(*seen) < cap(*seen) {
			*seen = append(*seen, key)
			return false
		}
		*many = make(map[string]struct{}, 2*cap(*seen))
		for _, k := range *seen {
			(*many)[k] = struct{}{}
		}
	}
	if _, ok := (*many)[key]; ok {
		return true
	}
	(*many)[key] = struct{}{}
	return false
}

// eachElement calls fn for each element span of the array d.
func eachElement(what string, d []byte, fn func(i int, elem []byte) error) error {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return NewError(CodeInvalidArgument, "%s must be an array", what)
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return nil
	}
	for n := 0; i < len(d); n++ {
		end := skipValue(d, i)
		if end < 0 {
			return NewError(CodeInvalidArgument, "%s[%d]: malformed value", what, n)
		}
		if err := fn(n, d[i:end]); err != nil {
			return err
		}
		i = skipSpace(d, end)
		if i >= len(d) {
			break
		}
		if d[i] == ']' {
			return nil
		}
		if d[i] != ',' {
			return NewError(CodeInvalidArgument, "%s: malformed array", what)
		}
		i = skipSpace(d, i+1)
	}
	return NewError(CodeInvalidArgument, "%s: malformed array", what)
}

// unquoteValue decodes a JSON string value (with its quotes).
func unquoteValue(s []byte) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	return unquote(s[1 : len(s)-1])
}

// unquote decodes the inside of a JSON string; the fast path copies without
// escapes.
func unquote(inner []byte) (string, bool) {
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var out string
	q := make([]byte, 0, len(inner)+2)
	q = append(append(append(q, '"'), inner...), '"')
	if err := json.Unmarshal(q, &out); err != nil {
		return "", false
	}
	return out, true
}

// rawStringField is stringField for a value kept raw: the inside of the
// string, without a copy when it has no escapes; nil when raw is nil.
func rawStringField(field string, raw []byte) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	s, err := stringField(field, raw)
	return []byte(s), err
}

func isNull(v []byte) bool { return string(v) == "null" }

// intField parses an integer literal in [min, max]; 1.5, 1e3, "100" and
// out-of-range values are rejected with the range in the message.
func intField(field string, v []byte, min, max int64) (int64, error) {
	bad := func() error {
		return NewError(CodeInvalidArgument, "%s must be an integer in %d..%d, got %s", field, min, max, clip(v))
	}
	if len(v) == 0 {
		return 0, bad()
	}
	digits := v
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, bad()
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, bad()
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < min || n > max {
		return 0, bad()
	}
	return n, nil
}

func stringField(field string, v []byte) (string, error) {
	s, ok := unquoteValue(v)
	if !ok {
		return "", NewError(CodeInvalidArgument, "%s must be a string, got %s", field, clip(v))
	}
	return s, nil
}

// patternField parses a string that must match re (whose text is pattern).
func patternField(field string, v []byte, re *regexp.Regexp, pattern string) (string, error) {
	s, err := stringField(field, v)
	if err == nil && !re.MatchString(s) {
		err = NewError(CodeInvalidArgument, "%s must match %s, got %q", field, pattern, clip([]byte(s)))
	}
	return s, err
}

func boolField(field string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, NewError(CodeInvalidArgument, "%s must be true or false, got %s", field, clip(v))
}

func unknownField(what, key string) error {
	return NewError(CodeInvalidArgument, "%s: unknown field %q", what, key)
}

// clip shortens a value quoted in an error message.
func clip(v []byte) string {
	const max = 40
	if len(v) > max {
		return string(v[:max]) + "…"
	}
	return string(v)
}

// parseUintDec parses a canonical unsigned decimal (no sign, no leading zeros).
func parseUintDec(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
