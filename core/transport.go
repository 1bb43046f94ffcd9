package core

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Transport carries the NATS protocol over something other than a TCP socket:
// in the wasm build, the host's WebSocket (wasm/jsws). nats.go then speaks the
// plain protocol over the stream Dial returns; the transport does the framing
// and any TLS (wss://).
type Transport interface {
	// Dial opens a stream to target, one url entry as configured (ws:// or
	// wss://, credentials removed) or a server the cluster advertised, within
	// timeout.
	Dial(target string, timeout time.Duration) (net.Conn, error)
}

// OpenTransport is Open for a bus whose url entries (ws:// or wss://) are
// reached through t. Reconnects dial through t again, as Open's do over TCP.
func OpenTransport(config []byte, t Transport) (*Bus, error) {
	if t == nil {
		return nil, NewError(CodeInvalidArgument, "OpenTransport needs a transport")
	}
	return open(config, t)
}

// checkTransport applies the rules a transport adds to a valid config.
func (c *busConfig) checkTransport() error {
	if c.URL == "" {
		return NewError(CodeInvalidArgument,
			"url is required here (no embedded server): a nats-server WebSocket listener, ws://host:port or wss://host:port")
	}
	if c.TLS != (tlsConfig{}) {
		return NewError(CodeInvalidArgument, "tls does not apply over WebSocket: use a wss:// url (the host's WebSocket does TLS)")
	}
	entries := strings.Split(c.URL, ",")
	for i, e := range entries {
		if u := parseEntry(e); u.Scheme != "ws" && u.Scheme != "wss" {
			return NewError(CodeInvalidArgument,
				"url entry %d of %d: scheme %q cannot be reached from here; use ws:// or wss:// (a nats-server WebSocket listener)",
				i+1, len(entries), clip([]byte(u.Scheme)))
		}
	}
	return nil
}

// parseEntry parses one url entry that validate accepted.
func parseEntry(e string) *url.URL {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "://") {
		e = "nats://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return &url.URL{}
	}
	return u
}

// transportOptions tell nats.go that each ws(s):// entry is a plain nats://
// server at the same host:port (user info kept, for CONNECT), reached through
// the transport. nats.go would otherwise do a WebSocket handshake of its own
// over a stream that is already one.
func (c *busConfig) transportOptions() []nats.Option {
	d := &transportDialer{t: c.transport, timeout: c.ConnectTimeout, targets: map[string]string{}}
	var servers []string
	for _, e := range strings.Split(c.URL, ",") {
		u := parseEntry(e)
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "wss" {
				port = "443"
			}
			u.Host = net.JoinHostPort(u.Hostname(), port)
		}
		if d.scheme == "" {
			d.scheme = u.Scheme
		}
		target := *u
		target.User = nil
		d.targets[u.Host] = target.String()
		servers = append(servers, (&url.URL{Scheme: "nats", User: u.User, Host: u.Host}).String())
	}
	return []nats.Option{
		func(o *nats.Options) error { o.Servers = servers; return nil },
		nats.SetCustomDialer(d),
		nats.SkipHostLookup(), // the host resolves names itself
	}
}

// transportDialer maps nats.go's host:port back to the entry it came from; a
// server the cluster advertised gets the scheme of the first entry.
type transportDialer struct {
	t       Transport
	timeout time.Duration
	scheme  string
	targets map[string]string
}

func (d *transportDialer) Dial(_, address string) (net.Conn, error) {
	target, ok := d.targets[address]
	if !ok {
		target = d.scheme + "://" + address
	}
	return d.t.Dial(target, d.timeout)
}

// SkipTLSHandshake: nats.go must not start TLS inside the stream; a wss://
// entry is TLS already, and the servers' INFO to WebSocket clients never asks
// for it.
func (d *transportDialer) SkipTLSHandshake() bool { return true }

// websocketURL is where WebSocket clients reach the embedded server; empty
// when it serves none (or the bus uses url).
func (a *adapter) websocketURL() string {
	if a.embedded == nil {
		return ""
	}
	return a.embedded.websocketURL()
}
