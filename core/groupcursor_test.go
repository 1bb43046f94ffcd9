package core

import (
	"encoding/base64"
	"fmt"
	"maps"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestGroupCursorRoundTrip(t *testing.T) {
	c := groupCursor{group: "billing", member: "m-1", shards: map[int]memberPos{0: {7, 1}, 12: {^uint64(0), 3}, 3: {0, 0}}}
	text := c.encode()
	got, err := decodeGroupCursor(string(text), 16)
	if err != nil {
		t.Fatal(err)
	}
	if got.group != c.group || got.member != c.member || !maps.Equal(got.shards, c.shards) {
		t.Fatalf("round trip: %+v, want %+v", got, c)
	}
	plain, _ := base64.StdEncoding.DecodeString(string(text))
	if want := `{"g":"billing","m":"m-1","s":{"0":["7","1"],"3":["0","0"],"12":["18446744073709551615","3"]}}`; string(plain) != want {
		t.Fatalf("cursor text %s, want %s", plain, want)
	}
	if _, err := decodeGroupCursor(string(text), 12); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("shard 12 of 12 shards: %v", err)
	}
}

func TestGroupCursorRefusesMalformed(t *testing.T) {
	for _, s := range []string{
		``, `{}`, `[]`, `{"g":"a","m":"b"}`, `{"g":"a","s":{}}`,
		`{"g":"a","m":"b","s":{},"x":1}`,
		`{"g":"a","m":"b","s":{"1":["1"]}}`,
		`{"g":"a","m":"b","s":{"1":["1","2","3"]}}`,
		`{"g":"a","m":"b","s":{"1":[1,2]}}`,
		`{"g":"a","m":"b","s":{"01":["1","2"]}}`,
		`{"g":"a","m":"b","s":{"1":["-1","2"]}}`,
		`{"g":"a","m":"b","s":{"1":["1","2"],"1":["3","4"]}}`,
		`{"g":1,"m":"b","s":{}}`,
		`{"0":"5"}`,
	} {
		if _, err := decodeGroupCursor(base64.StdEncoding.EncodeToString([]byte(s)), 16); CodeOf(err) != CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid_argument", s, err)
		}
	}
	if _, err := decodeGroupCursor("not base64!", 16); CodeOf(err) != CodeInvalidArgument {
		t.Errorf("not base64: %v", err)
	}
}

// Stored positions are read leniently about shards past this bus's count (a
// member configured with more shards wrote them), strictly about the rest.
func TestStoredPositions(t *testing.T) {
	ps, ok := parsePositions([]byte(`{"1":["5","2"],"40":["9","1"]}`), 16, false)
	if !ok || len(ps) != 1 || ps[1] != (memberPos{5, 2}) {
		t.Fatalf("positions %v ok %v", ps, ok)
	}
	if _, ok := parsePositions([]byte(`{"1":["5"]}`), 16, false); ok {
		t.Fatal("a one-element position was accepted")
	}
	if got := string(appendPositions(nil, map[int]memberPos{10: {1, 2}, 2: {3, 4}})); got != `{"2":["3","4"],"10":["1","2"]}` {
		t.Fatalf("appendPositions: %s", got)
	}
}

// A lost compare-and-set reads the same from a single server and a cluster.
func TestWrongLastSequenceBothForms(t *testing.T) {
	for _, code := range []jetstream.ErrorCode{10071, 10164} {
		err := fmt.Errorf("group g shard 2: %w", &jetstream.APIError{Code: 400, ErrorCode: code, Description: "wrong last sequence"})
		if !isWrongLastSequence(err) {
			t.Errorf("err_code %d is not a lost compare-and-set", code)
		}
	}
	if isWrongLastSequence(&jetstream.APIError{Code: 400, ErrorCode: 10058}) {
		t.Error("err_code 10058 taken for a lost compare-and-set")
	}
}
