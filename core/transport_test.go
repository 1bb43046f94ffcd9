package core

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestWebsocketConfig(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		mention string
	}{
		{`{"embedded":{"websocket":{"listen":"127.0.0.1:0"}}}`, true, ""},
		{`{"embedded":{"websocket":{"listen":"[::1]:8080"}}}`, true, ""},
		{`{"embedded":{"websocket":{}}}`, false, "embedded.websocket.listen"},
		{`{"embedded":{"websocket":{"listen":"127.0.0.1"}}}`, false, "embedded.websocket.listen"},
		{`{"embedded":{"websocket":{"listen":":8080"}}}`, false, "embedded.websocket.listen needs a host"},
		{`{"embedded":{"websocket":{"listen":"127.0.0.1:70000"}}}`, false, "65535"},
		{`{"embedded":{"websocket":{"listen":"0.0.0.0:8080"}}}`, false, "embedded.websocket.listen on \"0.0.0.0\" serves other hosts"},
		{`{"embedded":{"websocket":{"listen":"0.0.0.0:8080"}},"auth":{"token":"t0k3n"}}`, true, ""},
		{`{"embedded":{"websocket":{"listen":"127.0.0.1:0","tls":true}}}`, false, "tls"},
		{`{"embedded":{"websocket":"127.0.0.1:0"}}`, false, "embedded.websocket"},
	} {
		_, err := parseConfig([]byte(tc.in))
		if tc.ok {
			if err != nil {
				t.Errorf("parseConfig(%s): %v", tc.in, err)
			}
			continue
		}
		wantCode(t, err, CodeInvalidArgument, tc.mention)
	}
}

// TestEmbeddedWebsocket: the embedded server's WebSocket listener, reached
// through a Transport the way the wasm build reaches it (NATS protocol in
// binary WebSocket messages), stores and reads what the in-process bus does.
func TestEmbeddedWebsocket(t *testing.T) {
	host := openBus(t, strings.Replace(memConfig(t, `,"shards":4,"auth":{"user":"ws-user","password":"ws-pass-1"}`),
		`"memory":true`, `"memory":true,"websocket":{"listen":"127.0.0.1:0"}`, 1))
	var st struct {
		Server struct {
			WebsocketURL string `json:"websocket_url"`
		} `json:"server"`
	}
	out, err := host.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	ws := st.Server.WebsocketURL
	if !strings.HasPrefix(ws, "ws://127.0.0.1:") || strings.HasSuffix(ws, ":0") {
		t.Fatalf("stats server.websocket_url = %q, want ws://127.0.0.1:<port>", ws)
	}

	tr := &wsTransport{}
	creds := strings.Replace(ws, "ws://", "ws://ws-user:ws-pass-1@", 1)
	b, err := OpenTransport([]byte(urlConfig(creds, `,"shards":4`)), tr)
	if err != nil {
		t.Fatalf("OpenTransport(%s): %v", ws, err)
	}
	defer b.Close()
	if got := tr.targets(); len(got) != 1 || got[0] != ws {
		t.Errorf("transport dialled %q, want [%q] (credentials go in CONNECT, not the WebSocket URL)", got, ws)
	}
	events := numberedEvents(0, 50)
	if r := publishEvents(t, b, events, `,"batch_id":"ws-1"`); r.Published != 50 {
		t.Fatalf("published %d, want 50", r.Published)
	}
	if r := publish(t, b, `{"events":`+eventsJSON(events)+`,"batch_id":"ws-1"}`); r.Duplicates != 50 {
		t.Fatalf("republished batch: %d duplicates, want 50", r.Duplicates)
	}
	got, _ := pollAll(t, host, "", 7, "")
	checkRoundTrip(t, got, events, 4)
	viaWS, _ := pollAll(t, b, "", 7, "")
	checkRoundTrip(t, viaWS, events, 4)

	_, err = OpenTransport([]byte(urlConfig(ws, `,"shards":4`)), tr)
	wantCode(t, err, CodeConnection, "connect to")
}

func TestTransportConfig(t *testing.T) {
	tr := &wsTransport{}
	for _, tc := range []struct{ in, mention string }{
		{`{}`, "url is required here"},
		{`{"url":"nats://127.0.0.1:4222"}`, `scheme "nats" cannot be reached`},
		{`{"url":"127.0.0.1:4222"}`, `scheme "nats"`},
		{`{"url":"ws://a:1,tls://b:2"}`, "url entry 2 of 2"},
		{`{"url":"wss://a:1","tls":{"ca_file":"ca.pem"}}`, "use a wss:// url"},
		{`{"url":"ws://a:1","shards":0}`, "shards"},
	} {
		_, err := OpenTransport([]byte(tc.in), tr)
		wantCode(t, err, CodeInvalidArgument, tc.mention)
	}
	if len(tr.targets()) != 0 {
		t.Errorf("a refused config dialled %q", tr.targets())
	}

	c := busConfig{URL: "ws://u:p@a, wss://b/nats ,ws://[::1]:8080", transport: tr}
	d := &transportDialer{}
	var o struct{ servers []string }
	for _, opt := range c.transportOptions() {
		var no nats.Options
		_ = opt(&no)
		if no.Servers != nil {
			o.servers = no.Servers
		}
		if no.CustomDialer != nil {
			d = no.CustomDialer.(*transportDialer)
		}
	}
	if want := []string{"nats://u:p@a:80", "nats://b:443", "nats://[::1]:8080"}; fmt.Sprint(o.servers) != fmt.Sprint(want) {
		t.Errorf("servers %q, want %q", o.servers, want)
	}
	want := map[string]string{"a:80": "ws://a:80", "b:443": "wss://b:443/nats", "[::1]:8080": "ws://[::1]:8080"}
	if fmt.Sprint(d.targets) != fmt.Sprint(want) || d.scheme != "ws" {
		t.Errorf("targets %v (scheme %q), want %v (ws)", d.targets, d.scheme, want)
	}
}

// wsTransport is a minimal WebSocket client (RFC 6455: handshake, masked
// binary frames out, binary and continuation frames in, ping answered): what
// the host's WebSocket does for the wasm build.
type wsTransport struct {
	mu     sync.Mutex
	dialed []string
}

func (w *wsTransport) targets() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.dialed...)
}

func (w *wsTransport) Dial(target string, timeout time.Duration) (net.Conn, error) {
	w.mu.Lock()
	w.dialed = append(w.dialed, target)
	w.mu.Unlock()
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.Host, k)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &wsConn{Conn: c, br: br}, nil
}

type wsConn struct {
	net.Conn
	br      *bufio.Reader
	pending []byte
	wmu     sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var x [2]byte
			if _, err := io.ReadFull(c.br, x[:]); err != nil {
				return 0, err
			}
			n = uint64(binary.BigEndian.Uint16(x[:]))
		case 127:
			var x [8]byte
			if _, err := io.ReadFull(c.br, x[:]); err != nil {
				return 0, err
			}
			n = binary.BigEndian.Uint64(x[:])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return 0, err
		}
		switch h[0] & 0x0f {
		case 0, 1, 2:
			c.pending = payload
		case 8:
			return 0, io.EOF
		case 9:
			if err := c.frame(0xA, payload); err != nil {
				return 0, err
			}
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.frame(0x2, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) frame(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	h = append(h, mask[:]...)
	out := make([]byte, len(p))
	for i := range p {
		out[i] = p[i] ^ mask[i%4]
	}
	_, err := c.Conn.Write(append(h, out...))
	return err
}
