package core

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendRecord(t *testing.T) {
	for _, tc := range []struct {
		ev    string
		ts    uint64
		shard int
		want  string
	}{
		{`{"a":1}`, 1700000000000000000, 3, `{"r":{"a":1},"t":1700000000000000000,"s":3}`},
		{`{ "a" : [1, 2] }`, 0, 0, `{"r":{ "a" : [1, 2] },"t":0,"s":0}`},
		{`"s"`, math.MaxUint64, 1023, `{"r":"s","t":18446744073709551615,"s":1023}`},
		{`0`, 9, 10, `{"r":0,"t":9,"s":10}`},
	} {
		got := appendRecord([]byte("prefix|"), []byte(tc.ev), tc.ts, tc.shard)
		if string(got) != "prefix|"+tc.want {
			t.Fatalf("appendRecord(%s) = %s, want %s", tc.ev, got, tc.want)
		}
		if n := recordLen([]byte(tc.ev), tc.ts, tc.shard); n != len(tc.want) {
			t.Fatalf("recordLen(%s) = %d, want %d", tc.ev, n, len(tc.want))
		}
		raw, ts, kind, why := decodeRecord(got[len("prefix|"):], tc.shard)
		if kind != recordGood || why != "" || string(raw) != tc.ev || ts != tc.ts {
			t.Fatalf("round trip of %s: raw %s ts %d kind %d why %q", tc.ev, raw, ts, kind, why)
		}
		if _, _, _, ok := decodeRecordFast(got[len("prefix|"):]); !ok {
			t.Fatalf("the record this library writes misses the fast path: %s", tc.want)
		}
	}
	for _, n := range []uint64{0, 1, 9, 10, 99, 100, 1e18, math.MaxUint64} {
		if decLen(n) != len(strconv.FormatUint(n, 10)) {
			t.Fatalf("decLen(%d) = %d", n, decLen(n))
		}
	}
}

func TestDecodeRecord(t *testing.T) {
	type want struct {
		raw  string
		ts   uint64
		kind recordKind
		why  string
		fast bool // taken by decodeRecordFast
	}
	for _, tc := range []struct {
		rec   string
		shard int
		want  want
	}{
		// The exact shape: fast path.
		{`{"r":{"token":"x"},"t":9999,"s":0}`, 0, want{`{"token":"x"}`, 9999, recordGood, "", true}},
		{`{"r":[1,{"t":2,"s":0}],"t":5,"s":7}`, 7, want{`[1,{"t":2,"s":0}]`, 5, recordGood, "", true}},
		{`{"r":"a,\"t\":1,\"s\":0}","t":5,"s":0}`, 0, want{`"a,\"t\":1,\"s\":0}"`, 5, recordGood, "", true}},
		{`{"r":1,"t":18446744073709551615,"s":0}`, 0, want{`1`, math.MaxUint64, recordGood, "", true}},
		{`{"r":{},"t":1,"s":5}`, 0, want{"", 0, recordCorrupt, "s is 5", true}},
		// Other shapes: slow path, same meaning.
		{`{"r":1,"x":2,"t":3,"s":0}`, 0, want{`1`, 3, recordGood, "", false}},
		{`{ "r" : {"a": 1} , "t" : 3 , "s" : 0 }`, 0, want{`{"a": 1}`, 3, recordGood, "", false}},
		{"{\"r\":1,\"t\":3,\"s\":0}\n", 0, want{`1`, 3, recordGood, "", false}},
		{`{"s":2,"t":3,"r":[true]}`, 2, want{`[true]`, 3, recordGood, "", false}},
		{`{"r":1,"t":3,"s":1}`, 0, want{"", 0, recordCorrupt, "s is 1", true}},
		{`{"r":null,"t":1,"s":0}`, 0, want{"", 0, recordCorrupt, "r is null", false}},
		{`{"t":1,"s":0}`, 0, want{"", 0, recordCorrupt, "r is missing", false}},
		{`{"r":1,"t":3}`, 1, want{"", 0, recordCorrupt, "s is missing", false}},
		{`{"r":1,"t":3}`, 0, want{"", 0, recordCorrupt, "s is missing", false}},
		{`{"s":0,"t":1,"r":null}`, 0, want{"", 0, recordCorrupt, "r is null", false}},
		{`{"r":1,"t":1,"s":18446744073709551615}`, 0, want{"", 0, recordCorrupt, "s is 18446744073709551615", true}},
		// Unparseable: skipped.
		{`{"r":1,"t":"5","s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1,"s":"0"}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1,"s":99999999999999999999}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":18446744073709551616,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":-1,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1.5,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1e3,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1,"s":-0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":1,"s":0`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":,"t":1,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`{"r":1,"t":01,"s":0}`, 0, want{"", 0, recordUnparseable, "", false}},
		{`not json`, 0, want{"", 0, recordUnparseable, "", false}},
		{``, 0, want{"", 0, recordUnparseable, "", false}},
		{`[1,2]`, 0, want{"", 0, recordUnparseable, "", false}},
		{`"str"`, 0, want{"", 0, recordUnparseable, "", false}},
	} {
		raw, ts, kind, why := decodeRecord([]byte(tc.rec), tc.shard)
		w := tc.want
		if string(raw) != w.raw || ts != w.ts || kind != w.kind || why != w.why {
			t.Errorf("decodeRecord(%s, %d) = raw %q ts %d kind %d why %q; want raw %q ts %d kind %d why %q",
				tc.rec, tc.shard, raw, ts, kind, why, w.raw, w.ts, w.kind, w.why)
		}
		_, _, _, fast := decodeRecordFast([]byte(tc.rec))
		if fast != w.fast {
			t.Errorf("decodeRecordFast(%s) ok = %v, want %v", tc.rec, fast, w.fast)
		}
	}
}

// docs/reference.md: a record whose s is missing or not the stream's shard is
// corrupt. A missing s is not shard 0: it must not pass on shard 0 while it is
// corrupt on shard 1.
func TestDecodeRecordMissingShard(t *testing.T) {
	_, _, kind1, _ := decodeRecord([]byte(`{"r":1,"t":3}`), 1)
	_, _, kind0, _ := decodeRecord([]byte(`{"r":1,"t":3}`), 0)
	if kind1 != recordCorrupt || kind0 != kind1 {
		t.Fatalf(`{"r":1,"t":3} is kind %d on shard 0 and %d on shard 1; want corrupt on both`, kind0, kind1)
	}
}

// A record is JSON only if it is UTF-8 (RFC 8259); one that is not must be
// skipped like any record that does not parse, or it reaches the poll response.
func TestDecodeRecordInvalidUTF8(t *testing.T) {
	for _, rec := range []string{"{\"r\":\"\xff\",\"t\":1,\"s\":0}", "{\"s\":0,\"t\":1,\"r\":\"\xc3\"}"} {
		raw, _, kind, _ := decodeRecord([]byte(rec), 0)
		if kind != recordUnparseable {
			t.Errorf("decodeRecord(%q) = kind %d raw %q, want unparseable", rec, kind, raw)
		}
	}
}
