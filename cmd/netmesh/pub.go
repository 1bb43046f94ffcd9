package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netmesh/netmesh/core"
)

const pubHelp = `Usage: netmesh [common flags] pub [--batch-id ID] [--shard K] [--batch N] [--acks] [event ...]

Publishes events. Each argument is one event, one JSON value of any kind but
null: '{"user":"ada"}', 42, '"text"' (a string needs its quotes), '[1,2]'.
Without arguments, events are read from stdin as JSON lines: one event per line,
blank lines skipped. Put -- before arguments that start with a dash (-- -5).

Events go out in requests of --batch events (fewer when a request would pass
8 MiB or the config's max_request_bytes). Each request returns once JetStream
has stored every event of it.

  --batch-id ID  makes a rerun store nothing twice: the i-th request (counted
                 from 0) is published with batch_id ID:<i> (ID:0, ID:1, …), so
                 running the same input with the same ID and --batch again
                 inside the dedup window (1 h by default) stores each event
                 once and counts the rest as duplicates. ID:<i> must match
                 [A-Za-z0-9_.:-]{1,128}
  --shard K      put every event on shard K (default: routed by a hash of its bytes)
  --batch N      events per request (default 1000)
  --acks         print each request's response, with where every event was
                 stored, as one JSON line on stdout

A summary (published, duplicates) goes to stderr; stdout stays empty unless
--acks. If a request fails, the requests before it are stored: rerun with the
same --batch-id to store the rest once.

  netmesh pub '{"user":"ada","action":"login"}' '{"user":"bob","action":"logout"}'
  jq -c '.[]' events.json | netmesh pub --batch-id import-2026-11-29

` + commonFlagsHelp

func pubCommand() *command {
	return &command{
		name: "pub", summary: "publish events: JSON arguments, or JSON lines on stdin",
		help: pubHelp,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &pubOptions{}
			fs.Func("batch-id", "", func(s string) error {
				if s == "" {
					return errors.New("must not be empty")
				}
				o.batchID = s
				return nil
			})
			fs.Var(&o.shard, "shard", "")
			fs.IntVar(&o.batch, "batch", 1000, "")
			fs.BoolVar(&o.acks, "acks", false, "")
			return o.run
		},
	}
}

type pubOptions struct {
	batchID string
	shard   optInt
	batch   int
	acks    bool
}

// maxBatchBytes caps one request below the library's 64 MiB default; a larger
// event still goes out, alone, and the library decides whether it fits.
const maxBatchBytes = 8 << 20

// eventSource yields the events: the arguments, or the lines of stdin.
type eventSource interface {
	// next returns the next event and where it came from, or io.EOF.
	next() (ev []byte, where int, err error)
	kind() string // "argument" or "line"
}

func (o *pubOptions) run(e *env, c *common, args []string) (err error) {
	if o.batch < 1 {
		return usagef("pub", "--batch must be at least 1, got %d", o.batch)
	}
	var src eventSource
	if len(args) > 0 {
		evs := make([][]byte, len(args))
		for i, a := range args {
			ev, err := checkEvent([]byte(a))
			if err != nil {
				return usagef("pub", "argument %d is not a JSON event: %v%s", i+1, err, quoteHint(a))
			}
			evs[i] = ev
		}
		src = &argSource{evs: evs}
	} else {
		if f, ok := e.stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(e.stderr, "netmesh: reading events from stdin, one JSON value a line; end with Ctrl-D")
			}
		}
		src = &lineSource{r: bufio.NewReaderSize(e.stdin, 1<<20)}
	}

	bus, cfg, err := c.open("pub")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := bus.Close(); err == nil {
			err = cerr
		}
	}()
	p := &publisher{o: o, bus: bus, out: bufio.NewWriter(e.stdout), kind: src.kind(),
		maxBytes: min(maxBatchBytes, maxRequestBytes(cfg)-512), start: time.Now()}
	for {
		ev, where, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.failed(e.stderr, false, err)
			return err
		}
		if p.full(len(ev)) {
			if err := p.flush(); err != nil {
				p.failed(e.stderr, true, err)
				return err
			}
		}
		p.add(ev, where)
	}
	if err := p.flush(); err != nil {
		p.failed(e.stderr, true, err)
		return err
	}
	total := p.published + p.duplicates
	fmt.Fprintf(e.stderr, "netmesh: published %d, duplicates %d (%d %s in %d %s, %v)\n",
		p.published, p.duplicates, total, plural(total, "event"), p.requests, plural(p.requests, "request"),
		time.Since(p.start).Round(time.Millisecond))
	return nil
}

// checkEvent trims an event and checks that it is one JSON value other than
// null, in valid UTF-8 (the library checks again; this names the argument or line).
func checkEvent(ev []byte) ([]byte, error) {
	ev = bytes.TrimSpace(ev)
	if !json.Valid(ev) {
		var raw json.RawMessage
		if err := json.Unmarshal(ev, &raw); err != nil {
			return nil, err
		}
		return nil, errors.New("not one JSON value")
	}
	if string(ev) == "null" {
		return nil, errors.New("null is not an event")
	}
	if !utf8.Valid(ev) {
		return nil, errors.New("invalid UTF-8")
	}
	return ev, nil
}

// quoteHint helps with a bare word that was meant as a JSON string.
func quoteHint(a string) string {
	a = strings.TrimSpace(a)
	if a == "" || strings.ContainsAny(a[:1], `{["-0123456789tfn`) {
		return ""
	}
	return fmt.Sprintf(" (a JSON string needs its quotes: '%s')", jsonString(a))
}

type argSource struct {
	evs [][]byte
	i   int
}

func (s *argSource) next() ([]byte, int, error) {
	if s.i == len(s.evs) {
		return nil, 0, io.EOF
	}
	s.i++
	return s.evs[s.i-1], s.i, nil
}

func (s *argSource) kind() string { return "argument" }

type lineSource struct {
	r    *bufio.Reader
	line int
}

func (s *lineSource) next() ([]byte, int, error) {
	for {
		b, err := s.r.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, 0, &ioError{fmt.Errorf("reading stdin: %w", err)}
		}
		s.line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		ev, cerr := checkEvent(b)
		if cerr != nil {
			return nil, 0, core.NewError(core.CodeInvalidArgument, "stdin line %d is not a JSON event: %v", s.line, cerr)
		}
		return ev, s.line, nil
	}
}

func (s *lineSource) kind() string { return "line" }

// publisher gathers events into requests and sends them one at a time.
type publisher struct {
	o        *pubOptions
	bus      *core.Bus
	out      *bufio.Writer
	kind     string
	maxBytes int
	start    time.Time

	buf         []byte // `{"events":[` and the events so far
	n           int    // events in buf
	first, last int    // where the events in buf came from

	requests              int // requests stored
	published, duplicates int
}

func (p *publisher) full(next int) bool {
	return p.n > 0 && (p.n >= p.o.batch || len(p.buf)+next+1 > p.maxBytes)
}

func (p *publisher) add(ev []byte, where int) {
	if p.n == 0 {
		p.buf = append(p.buf[:0], `{"events":[`...)
		p.first = where
	} else {
		p.buf = append(p.buf, ',')
	}
	p.buf = append(p.buf, ev...)
	p.n++
	p.last = where
}

func (p *publisher) flush() error {
	if p.n == 0 {
		return nil
	}
	req := append(p.buf, ']')
	if p.o.shard.set {
		req = strconv.AppendInt(append(req, `,"shard":`...), int64(p.o.shard.v), 10)
	}
	if p.o.batchID != "" {
		req = append(append(req, `,"batch_id":`...), jsonString(p.o.batchID+":"+strconv.Itoa(p.requests))...)
	}
	if p.o.acks {
		req = append(req, `,"acks":true`...)
	}
	req = append(req, '}')
	out, err := p.bus.Publish(req)
	if err != nil {
		return err
	}
	var resp struct {
		Published  int `json:"published"`
		Duplicates int `json:"duplicates"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("unexpected publish response %q: %v", out, err)
	}
	p.requests++
	p.published += resp.Published
	p.duplicates += resp.Duplicates
	p.n, p.buf = 0, req[:0]
	if p.o.acks {
		p.out.Write(out)
		p.out.WriteByte('\n')
		if err := p.out.Flush(); err != nil {
			return &ioError{fmt.Errorf("writing stdout: %w", err)}
		}
	}
	return nil
}

// failed says, before the error itself, what is stored and how to go on;
// sending tells whether the request being built was sent. A request the
// library refused before sending (invalid_argument and the like) stored
// nothing, so with nothing before it there is nothing to say.
func (p *publisher) failed(stderr io.Writer, sending bool, err error) {
	if p.requests == 0 && core.CodeOf(err) != core.CodeTransient {
		return
	}
	var b strings.Builder
	b.WriteString("netmesh: ")
	if sending {
		fmt.Fprintf(&b, "request %d (%s %s) failed", p.requests, plural(p.last-p.first+1, p.kind), span(p.first, p.last))
	} else {
		b.WriteString("stopped at the bad line")
		if p.n > 0 {
			fmt.Fprintf(&b, ", sent nothing from line %d on", p.first)
		}
	}
	stored := p.published + p.duplicates
	fmt.Fprintf(&b, "; the %d %s before stored %d %s (published %d, duplicates %d); ",
		p.requests, plural(p.requests, "request"), stored, plural(stored, "event"), p.published, p.duplicates)
	if p.o.batchID != "" {
		b.WriteString("rerun with the same --batch-id and --batch to store the rest once")
	} else {
		b.WriteString("a rerun without --batch-id stores them again")
	}
	fmt.Fprintln(stderr, b.String())
}

func span(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
