//go:build js

// Package jsws is a core.Transport over the host's WebSocket (the browser's,
// Deno's, Node's global one, or a constructor such as the ws package's): each
// binary message is a piece of the NATS byte stream. JavaScript callbacks only
// queue and signal, never block; Read and Write run on goroutines.
package jsws

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall/js"
	"time"
)

// Transport dials with the WebSocket constructor Ctor.
type Transport struct {
	Ctor js.Value
}

// highWater bounds what a Write leaves in the WebSocket's send buffer, so a
// large publish waits for the network instead of growing the host's memory.
const highWater = 4 << 20

var (
	uint8Array  = js.Global().Get("Uint8Array")
	arrayBuffer = js.Global().Get("ArrayBuffer")
)

// Dial opens target and waits for it to open, fail or time out.
func (t Transport) Dial(target string, timeout time.Duration) (nc net.Conn, err error) {
	c := &conn{target: target, wake: make(chan struct{}, 1), opened: make(chan struct{})}
	defer func() {
		if r := recover(); r != nil { // the constructor throws on a malformed URL
			err = fmt.Errorf("websocket %s: %v", target, r)
		}
	}()
	c.ws = t.Ctor.New(target)
	c.ws.Set("binaryType", "arraybuffer")
	c.on("open", func(js.Value) { close(c.opened) })
	c.on("message", c.onMessage)
	c.on("error", func(ev js.Value) { c.fail(fmt.Errorf("websocket %s: %s", target, errorText(ev))) })
	c.on("close", func(ev js.Value) {
		c.fail(fmt.Errorf("websocket %s closed (code %d%s)", target, ev.Get("code").Int(), reasonText(ev)))
	})
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-c.opened:
			return c, nil
		case <-timer.C:
			c.Close()
			return nil, fmt.Errorf("websocket %s: not open after %v", target, timeout)
		case <-c.wake:
			if err := c.err(); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
}

type conn struct {
	target string
	ws     js.Value
	funcs  []js.Func
	opened chan struct{}
	wake   chan struct{} // one pending signal: data arrived or the socket failed

	mu        sync.Mutex
	queue     [][]byte
	failed    error
	closed    bool
	rDeadline time.Time
	wDeadline time.Time
}

func (c *conn) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var ev js.Value
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	c.funcs = append(c.funcs, fn)
	c.ws.Set("on"+event, fn)
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) onMessage(ev js.Value) {
	data := ev.Get("data")
	var b []byte
	if data.InstanceOf(arrayBuffer) {
		u := uint8Array.New(data)
		b = make([]byte, u.Length())
		js.CopyBytesToGo(b, u)
	} else { // a text message; nats-server sends binary ones
		b = []byte(data.String())
	}
	c.mu.Lock()
	c.queue = append(c.queue, b)
	c.mu.Unlock()
	c.signal()
}

func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = err
	}
	c.mu.Unlock()
	c.signal()
}

func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// Read returns queued message bytes; io.EOF once the socket closed and
// everything received was read.
func (c *conn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			n := copy(p, c.queue[0])
			if n == len(c.queue[0]) {
				c.queue[0] = nil
				c.queue = c.queue[1:]
			} else {
				c.queue[0] = c.queue[0][n:]
			}
			more := len(c.queue) > 0
			c.mu.Unlock()
			if more {
				c.signal()
			}
			return n, nil
		}
		closed, failed, deadline := c.closed, c.failed, c.rDeadline
		c.mu.Unlock()
		switch {
		case closed:
			return 0, net.ErrClosed
		case failed != nil:
			return 0, io.EOF
		}
		if err := c.wait(deadline); err != nil {
			return 0, err
		}
	}
}

// wait blocks until a signal or the deadline.
func (c *conn) wait(deadline time.Time) error {
	if deadline.IsZero() {
		<-c.wake
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.wake:
	case <-t.C:
	}
	return nil
}

// Write sends p as one binary message.
func (c *conn) Write(p []byte) (n int, err error) {
	for c.ws.Get("bufferedAmount").Int() > highWater {
		if err := c.writable(); err != nil {
			return 0, err
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.writable(); err != nil {
		return 0, err
	}
	defer func() {
		if r := recover(); r != nil { // send throws on a socket that is not open
			n, err = 0, fmt.Errorf("websocket %s: send: %v", c.target, r)
		}
	}()
	u := uint8Array.New(len(p))
	js.CopyBytesToJS(u, p)
	c.ws.Call("send", u)
	return len(p), nil
}

func (c *conn) writable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return net.ErrClosed
	case c.failed != nil:
		return c.failed
	case !c.wDeadline.IsZero() && time.Now().After(c.wDeadline):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Close closes the socket and releases the callbacks, detached first so the
// host never calls a released one.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	for _, ev := range []string{"open", "message", "error", "close"} {
		c.ws.Set("on"+ev, js.Null())
	}
	func() {
		defer func() { _ = recover() }()
		c.ws.Call("close")
	}()
	for _, f := range c.funcs {
		f.Release()
	}
	c.signal()
	return nil
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rDeadline, c.wDeadline = t, t
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rDeadline = t
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wDeadline = t
	c.mu.Unlock()
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return addr("websocket") }
func (c *conn) RemoteAddr() net.Addr { return addr(c.target) }

type addr string

func (a addr) Network() string { return "websocket" }
func (a addr) String() string  { return string(a) }

// errorText is what an error event says; browsers say nothing, ws says why.
func errorText(ev js.Value) string {
	if ev.Type() == js.TypeObject {
		if m := ev.Get("message"); m.Type() == js.TypeString && m.String() != "" {
			return m.String()
		}
		if e := ev.Get("error"); e.Type() == js.TypeObject && e.Get("message").Type() == js.TypeString {
			return e.Get("message").String()
		}
	}
	return "connection failed"
}

func reasonText(ev js.Value) string {
	if r := ev.Get("reason"); r.Type() == js.TypeString && r.String() != "" {
		return ", " + r.String()
	}
	return ""
}
