package core

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestParsePubAck(t *testing.T) {
	cases := []struct {
		data   string
		status string
		seq    uint64
		dup    bool
		code   Code
	}{
		{data: `{"stream":"netmesh_shard_0","seq":42}`, seq: 42},
		{data: `{"stream":"netmesh_shard_0","domain":"x","seq":7,"duplicate":true}`, seq: 7, dup: true},
		{data: `{"error":{"code":503,"err_code":10158,"description":"duplicate message id is in process"},"stream":"s","seq":0}`, code: CodeTransient},
		{data: `{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}`, code: CodeTransient},
		{data: `{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}`, code: CodeTooLarge},
		{data: `{"error":{"code":400,"err_code":10077,"description":"maximum messages exceeded"}}`, code: CodeFatal},
		{data: `{"error":{"code":403,"err_code":10001,"description":"permissions"}}`, code: CodeConnection},
		{status: "503", code: CodeTransient},
		{data: `not json`, code: CodeTransient},
		{data: `{"stream":"s"}`, code: CodeTransient}, // no sequence: not an ack
	}
	for _, c := range cases {
		m := &nats.Msg{Data: []byte(c.data)}
		if c.status != "" {
			m.Header = nats.Header{"Status": []string{c.status}}
		}
		seq, dup, err := parsePubAck(m)
		if CodeOf(err) != c.code || seq != c.seq || dup != c.dup {
			t.Errorf("%q status %q: seq %d dup %v err %v (%v); want seq %d dup %v code %v",
				c.data, c.status, seq, dup, err, CodeOf(err), c.seq, c.dup, c.code)
		}
	}
	if _, _, err := parsePubAck(&nats.Msg{Header: nats.Header{"Status": []string{"503"}}}); err != errNoResponders {
		t.Errorf("503 status must mark the stream as gone, got %v", err)
	}
}
