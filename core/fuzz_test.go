package core

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every parser error is one of the two request codes; nothing else may leak out.
func checkParseError(t *testing.T, what string, in []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if c := CodeOf(err); c != CodeInvalidArgument && c != CodeTooLarge {
		t.Fatalf("%s(%q): code %v: %v", what, in, c, err)
	}
	if err.Error() == "" {
		t.Fatalf("%s(%q): empty error message", what, in)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"shards":1}`, `{"shards":1024}`, `{"shards":0}`, `{"shards":1025}`,
		`{"shards":1.5}`, `{"shards":1e30}`, `{"shards":"100"}`, `{"shards":-1}`,
		`{"url":"nats://u:p@h:4222,nats://tok@h2","replicas":3}`, `{"replicas":3}`,
		`{"embedded":{"store_dir":"d","listen":"127.0.0.1:0","memory":true}}`,
		`{"embedded":{"listen":"0.0.0.0:4222"},"auth":{"token":"t"}}`, `{"embedded":{"listen":"0.0.0.0:4222"}}`,
		`{"embedded":{"bogus":1}}`, `{"auth":{"bogus":null}}`, `{"tls":{"ca_file":"x"}}`,
		`{"url":"nats://h:1","tls":{"ca_file":"a","cert_file":"c","key_file":"k"}}`,
		`{"prefix":"a-b_C9","dedup_window_ms":100,"max_age_ms":100,"max_messages":5,"max_bytes":1024}`,
		`{"max_request_bytes":1023}`, `{"max_request_bytes":1073741824}`, `{"log_level":"debug"}`,
		`{"connect_timeout_ms":3600000,"request_timeout_ms":1}`, `{"shards":4,"shards":4}`,
		"{\"prefix\":\"\xff\"}", `{"\u0073hards":2}`, `{"url":"nats://h:1","embedded":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := parseConfig(in)
		checkParseError(t, "ParseConfig", in, err)
		if err != nil {
			return
		}
		if c.Shards < 1 || c.Shards > 1024 || c.Replicas < 1 || c.Replicas > 5 ||
			c.MaxRequestBytes < 1024 || c.MaxRequestBytes > 1<<30 || !prefixRe.MatchString(c.Prefix) ||
			c.ConnectTimeout < time.Millisecond || c.RequestTimeout < time.Millisecond ||
			c.DedupWindow <= 0 || c.MaxMessages < 0 || c.MaxBytes < 0 || c.MaxAge < 0 ||
			c.Embedded.StoreDir == "" || !oneOf(c.LogLevel, logLevels) {
			t.Fatalf("ParseConfig(%q) accepted an out-of-range config: %#v", in, c)
		}
		if c.URL == "" && c.Replicas != 1 {
			t.Fatalf("ParseConfig(%q): replicas %d without url", in, c.Replicas)
		}
		if c.MaxAge > 0 && c.DedupWindow > c.MaxAge {
			t.Fatalf("ParseConfig(%q): dedup window over max age", in)
		}
		if c2, err := parseConfig(in); err != nil || c2 != c {
			t.Fatalf("ParseConfig(%q) is not deterministic", in)
		}
	})
}

func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"events":[]}`, `{"events":[1,"a",{"b":[null]},[],true,false,-1.5e3]}`,
		`{"events":[null]}`, `{"events":[1,null]}`, `{"events":null}`, `{"events":{}}`,
		`{ "events" : [ {"a" : 1} , "x" ] , "shard" : 3 , "batch_id" : "b-1:2.3" , "acks" : true }`,
		`{"events":[1],"shard":16}`, `{"events":[1],"shard":-1}`, `{"events":[1],"batch_id":""}`,
		`{"events":[1],"batch_id":"a b"}`, `{"events":[1],"timeout_ms":0}`, `{"events":[1],"timeout_ms":3600000}`,
		`{"events":[1],"bogus":1}`, `{"events":[1],"events":[2]}`, `{"events":[1,]}`, `{"events":[1`,
		"{\"events\":[\"\xff\"]}", `{"events":["\u0000\ud800"]}`, `{"events":[{"a":"]}"}]}`,
		`{"events":["a\"b",{"\\":"]"}]}`, `{"\u0065vents":[1]}`, `[{"events":[1]}]`,
		`{"events":[1],"shard":null,"batch_id":null,"timeout_ms":null}`,
	} {
		f.Add([]byte(s))
	}
	b := &Bus{cfg: defaultConfig()}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := b.parsePublish(in)
		checkParseError(t, "parsePublish", in, err)
		if err != nil {
			return
		}
		for i, ev := range r.events {
			if !json.Valid(ev) || !validJSON(ev) || isNull(ev) || len(bytes.TrimSpace(ev)) != len(ev) {
				t.Fatalf("parsePublish(%q): event %d %q is not one JSON value", in, i, ev)
			}
		}
		if r.shard < -1 || r.shard >= b.cfg.Shards || r.timeout < time.Millisecond || r.timeout > time.Hour ||
			(r.batchID != "" && !batchIDRe.MatchString(r.batchID)) {
			t.Fatalf("parsePublish(%q) accepted %+v", in, r)
		}
		// The spans are exactly the elements encoding/json sees.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(bytes.TrimSpace(in), &m); err != nil && len(bytes.TrimSpace(in)) > 0 {
			t.Fatalf("parsePublish accepted %q, encoding/json: %v", in, err)
		}
		var evs []json.RawMessage
		if err := json.Unmarshal(m["events"], &evs); err != nil {
			t.Fatalf("parsePublish accepted %q without an events array: %v", in, err)
		}
		if len(evs) != len(r.events) {
			t.Fatalf("parsePublish(%q): %d events, encoding/json sees %d", in, len(r.events), len(evs))
		}
		for i := range evs {
			if !bytes.Equal(evs[i], r.events[i]) {
				t.Fatalf("parsePublish(%q): event %d is %q, encoding/json sees %q", in, i, r.events[i], evs[i])
			}
		}
	})
}

func FuzzParsePoll(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"limit":1}`, `{"limit":10000}`, `{"limit":0}`, `{"limit":10001}`, `{"limit":-1}`,
		`{"limit":1.5}`, `{"limit":1e30}`, `{"limit":"100"}`, `{"limit":null}`,
		`{"cursor":"eyIwIjoiNSJ9","shard":3,"start":"latest","wait_ms":300000,"skip_corrupt":true,"timeout_ms":1}`,
		`{"cursor":null,"shard":null,"start":null,"wait_ms":null,"timeout_ms":null}`, `{"cursor":5}`,
		`{"start":"middle"}`, `{"wait_ms":300001}`, `{"shard":16}`, `{"bogus":1}`, `{"limit":1,"limit":2}`,
		"{\"cursor\":\"\xff\"}", `{"cursor":"\u0065yIwIjoiNSJ9"}`, `{"limit":1`,
	} {
		f.Add([]byte(s))
	}
	b := &Bus{cfg: defaultConfig()}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := b.parsePoll(in)
		checkParseError(t, "parsePoll", in, err)
		if err != nil {
			return
		}
		if r.limit < 1 || r.limit > 10000 || r.shard < -1 || r.shard >= b.cfg.Shards || r.wait < 0 ||
			r.wait > 300*time.Second || r.timeout < time.Millisecond || r.timeout > time.Hour {
			t.Fatalf("parsePoll(%q) accepted %+v", in, r)
		}
		_, err = decodeCursor(string(r.cursor), b.cfg.Shards)
		checkParseError(t, "decodeCursor", r.cursor, err)
	})
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []struct {
		c      string
		shards uint16
	}{
		{"", 16}, {makeCursor(`{"0":"5"}`), 1}, {makeCursor(`{"0":"5","15":"18446744073709551615"}`), 16},
		{makeCursor(`{"1":"0","0":"0"}`), 2}, {makeCursor(`{}`), 4}, {makeCursor(`{"01":"1"}`), 4},
		{makeCursor(`{"+1":"1"}`), 4}, {makeCursor(`{" 1":"1"}`), 4}, {makeCursor(`{"1.0":"1"}`), 4},
		{makeCursor(`{"4":"1"}`), 4}, {makeCursor(`{"0":"18446744073709551616"}`), 4},
		{makeCursor(`{"0":5}`), 4}, {makeCursor(`{"0":"-1"}`), 4}, {makeCursor(`not json`), 4},
		{makeCursor(`{"0":"1","0":"2"}`), 4}, {makeCursor(`{"\u0030":"1"}`), 4}, {makeCursor("{\"0\":\"1\xff\"}"), 4},
		{"!!!", 4}, {"abc", 4}, {"eyIwIjoiMSJ9", 4}, {makeCursor(`{"1023":"7"}`), 1024},
		{makeCursor(`[]`), 4}, {makeCursor(`null`), 4}, {makeCursor(` `), 4},
	} {
		f.Add(s.c, s.shards)
	}
	f.Fuzz(func(t *testing.T, s string, n uint16) {
		shards := 1 + int(n)%1024
		pos, err := decodeCursor(s, shards)
		checkParseError(t, "decodeCursor", []byte(s), err)
		if err != nil {
			return
		}
		if len(pos.seq) != shards || len(pos.set) != shards {
			t.Fatalf("decodeCursor(%q, %d): %d positions", s, shards, len(pos.seq))
		}
		enc := appendCursor(nil, pos)
		if len(enc) < 2 || enc[0] != '"' || enc[len(enc)-1] != '"' {
			t.Fatalf("appendCursor wrote %q", enc)
		}
		again, err := decodeCursor(string(enc[1:len(enc)-1]), shards)
		if err != nil {
			t.Fatalf("re-encoded cursor %s of %q does not decode: %v", enc, s, err)
		}
		for k := 0; k < shards; k++ {
			if again.set[k] != pos.set[k] || again.seq[k] != pos.seq[k] {
				t.Fatalf("cursor %q: shard %d was (%v, %d), after re-encoding (%v, %d)",
					s, k, pos.set[k], pos.seq[k], again.set[k], again.seq[k])
			}
		}
		if enc2 := appendCursor(nil, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("cursor encoding is not canonical: %s then %s", enc, enc2)
		}
		// Unset shards read as 0; the canonical JSON names only the set ones.
		js := cursorJSON(t, string(enc[1:len(enc)-1]))
		for k := 0; k < shards; k++ {
			if !pos.set[k] && pos.seq[k] != 0 {
				t.Fatalf("unset shard %d has position %d", k, pos.seq[k])
			}
		}
		if strings.Count(js, ":") != countSet(pos) {
			t.Fatalf("canonical cursor %s does not name exactly the %d set shards", js, countSet(pos))
		}
	})
}

func countSet(p cursorPos) int {
	n := 0
	for _, ok := range p.set {
		if ok {
			n++
		}
	}
	return n
}

// Records from any writer: never a panic, and a good one survives a rewrite.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{`{"r":{"token":"x"},"t":9999,"s":0}`, `{"r":null,"t":1,"s":0}`, `{"t":1,"s":0}`,
		`{"r":{},"t":1,"s":5}`, `{ "r" : 1 , "t" : 2 , "s" : 0 }`, `{"r":1,"t":"5","s":0}`, `x`, ``, `{"r":1,"t":1,"s":}`,
		`{"r":"a,\"t\":1,\"s\":0}","t":5,"s":0}`} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, rec []byte, shard uint8) {
		raw, ts, kind, why := decodeRecord(rec, int(shard))
		switch kind {
		case recordGood:
			if !json.Valid(raw) || isNull(raw) || why != "" {
				t.Fatalf("decodeRecord(%q) good with raw %q why %q", rec, raw, why)
			}
			raw2, ts2, kind2, _ := decodeRecord(appendRecord(nil, raw, ts, int(shard)), int(shard))
			if kind2 != recordGood || ts2 != ts || !bytes.Equal(raw2, raw) {
				t.Fatalf("rewritten record of %q reads as %q %d %d", rec, raw2, ts2, kind2)
			}
		case recordCorrupt:
			if why == "" {
				t.Fatalf("decodeRecord(%q): corrupt without a reason", rec)
			}
		case recordUnparseable:
		default:
			t.Fatalf("decodeRecord(%q): kind %d", rec, kind)
		}
	})
}
