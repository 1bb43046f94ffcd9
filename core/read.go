package core

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// Reads use $JS.API.DIRECT.GET.<stream>: one {"seq":S,"batch":N} request per shard
// per round, answered by N messages and a 204 EOB carrying Nats-Num-Pending. All
// replies arrive on one long-lived subscription and are decoded as they come.
// Servers before 2.11 ignore "batch" and never send the EOB, so for them each
// shard walks with next_by_subj gets, the next request sent from the handler.

type entry struct {
	seq  uint64
	ts   uint64
	raw  []byte // the event inside the reply's payload (nats.go gives each its own)
	kind recordKind
	why  string
}

// shardAcc collects what one poll has read from one shard.
type shardAcc struct {
	shard    int
	entries  []entry
	bytes    int    // event bytes read, for the poll's size budget
	next     uint64 // next sequence to read
	pending  int64  // events known to follow; -1 unknown
	endHint  uint64 // the shard's end as the server's count suggests; 0 unknown
	stopped  bool   // a corrupt record ended this shard's read
	skipBad  bool   // skip_corrupt
	lastSeen uint64
}

// noHdrMaxBytes bounds one no_hdr batch, so a short batch tells an exhausted shard.
const noHdrMaxBytes = 16 << 20

type readMode uint8

const (
	modeBatch readMode = iota // batched direct get
	modeWalk                  // next_by_subj, one message per request
	modeLast                  // last_by_subj: the shard's last sequence
)

// shardRead is one request in flight (a walk is a chain of requests).
type shardRead struct {
	id   uint64
	acc  *shardAcc
	want int
	mode readMode
	got  int

	// A batch asked with no_hdr (2.12+) comes without per-message headers, which
	// spares the server rebuilding them and the client parsing them. The EOB's
	// last sequence then tells each message's sequence when the range had no
	// gap; after a gap the range is asked again with headers. Such an EOB's
	// Nats-Num-Pending is not decremented (nats-server 2.12-2.15), so one extra
	// message is asked for and held back to learn whether more follow.
	noHdr     bool
	bare      int // messages that came without headers
	bareBytes int
	start     uint64 // first sequence asked for
	mark      int    // len(acc.entries) when the request went out
	markBytes int

	mu       sync.Mutex
	finished bool
	err      error
	group    *readGroup
}

// readGroup is the reads of one round: the caller wakes once, when the last ends.
type readGroup struct {
	left atomic.Int32
	done chan struct{}
}

func newReadGroup(reads []*shardRead) *readGroup {
	g := &readGroup{done: make(chan struct{})}
	g.left.Store(int32(len(reads)))
	for _, rd := range reads {
		rd.group = g
	}
	return g
}

type readRouter struct {
	nc       *nats.Conn
	prefix   string
	getSubj  []string // per shard: $JS.API.DIRECT.GET.<stream>
	subjects []string // per shard
	batchGet *atomic.Bool
	sub      *nats.Subscription
	mu       sync.Mutex
	m        map[uint64]*shardRead
	next     uint64
	sent     atomic.Uint64 // requests sent, for tests
}

func (r *readRouter) start(nc *nats.Conn, log *logger, prefix string, streams, subjects []string, batchGet *atomic.Bool) error {
	r.nc, r.prefix, r.subjects, r.batchGet, r.m = nc, prefix, subjects, batchGet, map[uint64]*shardRead{}
	r.getSubj = make([]string, len(streams))
	for k, name := range streams {
		r.getSubj[k] = "$JS.API.DIRECT.GET." + name
	}
	sub, err := nc.Subscribe(prefix+">", func(m *nats.Msg) {
		defer recoverLog(log, "read handler")
		r.handle(m)
	})
	if err != nil {
		return wrapError(CodeConnection, err, "read subscription")
	}
	_ = sub.SetPendingLimits(-1, -1)
	r.sub = sub
	return nil
}

// send registers rd and sends its first request.
func (r *readRouter) send(rd *shardRead) error {
	rd.noHdr = rd.mode == modeBatch
	r.mu.Lock()
	r.next++
	rd.id = r.next
	r.m[rd.id] = rd
	r.mu.Unlock()
	return r.request(rd, rd.acc.next)
}

func (r *readRouter) reply(rd *shardRead) string {
	return r.prefix + strconv.FormatUint(rd.id, 10)
}

func (r *readRouter) request(rd *shardRead, seq uint64) error {
	rd.start, rd.mark, rd.markBytes = seq, len(rd.acc.entries), rd.acc.bytes
	body := make([]byte, 0, 96)
	switch rd.mode {
	case modeBatch:
		body = append(body, `{"seq":`...)
		body = strconv.AppendUint(body, seq, 10)
		body = append(body, `,"batch":`...)
		if rd.noHdr {
			body = strconv.AppendInt(body, int64(rd.want+1), 10)
			body = append(body, `,"no_hdr":true,"max_bytes":`...)
			body = strconv.AppendInt(body, noHdrMaxBytes, 10)
		} else {
			body = strconv.AppendInt(body, int64(rd.want), 10)
		}
		body = append(body, '}')
	case modeWalk:
		body = append(body, `{"seq":`...)
		body = strconv.AppendUint(body, seq, 10)
		body = append(body, `,"next_by_subj":"`...)
		body = append(body, r.subjects[rd.acc.shard]...)
		body = append(body, `"}`...)
	case modeLast:
		body = append(body, `{"last_by_subj":"`...)
		body = append(body, r.subjects[rd.acc.shard]...)
		body = append(body, `"}`...)
	}
	r.sent.Add(1)
	return r.nc.PublishRequest(r.getSubj[rd.acc.shard], r.reply(rd), body)
}

// finish ends rd once; later replies to it are ignored.
func (r *readRouter) finish(rd *shardRead, err error) {
	rd.mu.Lock()
	first := !rd.finished
	if first {
		rd.finished = true
		rd.err = err
	}
	rd.mu.Unlock()
	if first && rd.group != nil && rd.group.left.Add(-1) == 0 {
		close(rd.group.done)
	}
	r.mu.Lock()
	delete(r.m, rd.id)
	r.mu.Unlock()
}

func (r *readRouter) handle(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(r.prefix):], 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	rd := r.m[id]
	r.mu.Unlock()
	if rd == nil {
		return
	}
	rd.mu.Lock()
	if rd.finished {
		rd.mu.Unlock()
		return
	}
	finished, next, ferr := r.consume(rd, m)
	rd.mu.Unlock()
	switch {
	case finished:
		r.finish(rd, ferr)
	case next != 0:
		if err := r.request(rd, next); err != nil {
			r.finish(rd, wrapError(CodeTransient, err, "read shard %d", rd.acc.shard))
		}
	}
}

// consume takes one reply under rd.mu. It says whether rd is complete, or for a
// walk which sequence to ask for next.
func (r *readRouter) consume(rd *shardRead, m *nats.Msg) (finished bool, next uint64, err error) {
	acc := rd.acc
	if m.Header == nil {
		return r.consumeBare(rd, m)
	}
	if len(m.Data) == 0 {
		if status := m.Header.Get("Status"); status != "" {
			return r.consumeStatus(rd, m, status)
		}
		// no status: an empty stored payload, which is not a record
	}
	seq, ok := parseUintDec([]byte(m.Header.Get("Nats-Sequence")))
	if !ok {
		return true, 0, NewError(CodeFatal, "read shard %d: reply without Nats-Sequence", acc.shard)
	}
	if rd.mode == modeLast {
		acc.lastSeen = seq
		return true, 0, nil
	}
	rd.got++
	if rd.mode == modeWalk && rd.got > rd.want {
		acc.pending = 1 // the peek found one more; it is not taken
		return true, 0, nil
	}
	if !acc.stopped {
		acc.add(seq, m.Data)
	}
	switch {
	case rd.mode == modeBatch && m.Header.Get("Nats-Num-Pending") == "":
		// A server before 2.11 answered one message and will send no EOB.
		r.batchGet.Store(false)
		acc.pending = -1
		return true, 0, nil
	case rd.mode == modeBatch:
		return false, 0, nil
	case acc.stopped || seq == seqMax:
		acc.pending = -1
		return true, 0, nil
	}
	return false, seq + 1, nil
}

// consumeBare takes a message of a no_hdr batch: its sequence is known at the EOB.
func (r *readRouter) consumeBare(rd *shardRead, m *nats.Msg) (bool, uint64, error) {
	if !rd.noHdr {
		return true, 0, NewError(CodeFatal, "read shard %d: reply without headers", rd.acc.shard)
	}
	rd.got++
	rd.bare++
	rd.bareBytes += len(m.Data)
	if !rd.acc.stopped {
		rd.acc.add(0, m.Data)
	}
	return false, 0, nil
}

// consumeStatus takes a status reply: the end of a batch, or why there is none.
func (r *readRouter) consumeStatus(rd *shardRead, m *nats.Msg, status string) (bool, uint64, error) {
	acc := rd.acc
	switch status {
	case "204": // end of batch
		if np, ok := parseUintDec([]byte(m.Header.Get("Nats-Num-Pending"))); ok {
			acc.pending = int64(np)
			// A no_hdr EOB's count runs from the first sequence asked (see
			// shardRead); otherwise from the last one sent.
			if rd.noHdr {
				acc.endHint = rd.start - 1 + np
			} else {
				acc.endHint = acc.lastSeen + np
			}
		}
		if rd.bare > 0 {
			return r.placeHeaderless(rd, m)
		}
		return true, 0, nil
	case "404": // nothing at or after the sequence
		if rd.mode != modeLast {
			acc.pending = 0
		}
		return true, 0, nil
	case "503": // no such stream: a shard never written
		acc.pending = 0
		return true, 0, nil
	}
	code, _ := strconv.Atoi(status)
	return true, 0, NewError(apiErrorCode(code, 0), "read shard %d: server answered %s %s",
		acc.shard, status, m.Header.Get("Description"))
}

// placeHeaderless gives the messages of a no_hdr batch their sequences: got
// messages ending at the EOB's last sequence, starting where asked, fill the
// range exactly when it has no gap. Otherwise the range is asked again with headers.
func (r *readRouter) placeHeaderless(rd *shardRead, eob *nats.Msg) (bool, uint64, error) {
	acc := rd.acc
	last, ok := parseUintDec([]byte(eob.Header.Get("Nats-Last-Sequence")))
	if ok && last >= rd.start && last-rd.start == uint64(rd.bare-1) {
		for i := rd.mark; i < len(acc.entries); i++ {
			acc.entries[i].seq = rd.start + uint64(i-rd.mark)
		}
		switch {
		case rd.bare > rd.want:
			acc.pending = -1 // the extra one came: more follow
			if len(acc.entries)-rd.mark == rd.bare {
				peek := acc.entries[len(acc.entries)-1]
				acc.entries = acc.entries[:len(acc.entries)-1]
				acc.bytes -= len(peek.raw)
				if peek.kind == recordCorrupt {
					acc.stopped = false
				}
			}
		case rd.bareBytes >= noHdrMaxBytes/2:
			acc.pending = -1 // max_bytes may have cut the batch short
		default:
			acc.pending = 0
		}
		if len(acc.entries) > rd.mark {
			e := acc.entries[len(acc.entries)-1]
			acc.lastSeen = e.seq
			acc.next = e.seq + 1
			if e.seq == seqMax {
				acc.next = seqMax
			}
		}
		return true, 0, nil
	}
	acc.entries = acc.entries[:rd.mark]
	acc.bytes = rd.markBytes
	acc.stopped = false
	acc.pending = -1
	rd.noHdr, rd.got, rd.bare = false, 0, 0
	return false, rd.start, nil
}

// add decodes a stored record into the accumulator without copying the event.
func (acc *shardAcc) add(seq uint64, data []byte) {
	acc.lastSeen = seq
	if seq < seqMax {
		acc.next = seq + 1
	} else {
		acc.next = seq
	}
	raw, ts, kind, why := decodeRecord(data, acc.shard)
	e := entry{seq: seq, ts: ts, kind: kind, why: why, raw: raw}
	acc.bytes += len(raw)
	if kind == recordCorrupt && !acc.skipBad {
		acc.stopped = true
	}
	acc.entries = append(acc.entries, e)
}

// readAll sends every read at once, then waits for all of them. The requests
// go out from a goroutine: a write to a server that reads nothing blocks inside
// nats.go, and the poll must still end at its deadline.
func (r *readRouter) readAll(ctx context.Context, reads []*shardRead) error {
	g := newReadGroup(reads)
	go r.sendAll(reads)
	select {
	case <-g.done:
	case <-ctx.Done():
		return r.abandon(ctx, reads)
	}
	for _, rd := range reads {
		if rd.err != nil {
			return rd.err
		}
	}
	return nil
}

func (r *readRouter) sendAll(reads []*shardRead) {
	for i, rd := range reads {
		if err := r.send(rd); err != nil {
			err = wrapError(CodeTransient, err, "read shard %d", rd.acc.shard)
			for _, rest := range reads[i:] {
				r.finish(rest, err)
			}
			return
		}
	}
}

// abandon ends reads whose deadline passed and says which shards were late.
func (r *readRouter) abandon(ctx context.Context, reads []*shardRead) error {
	var late []int
	var failed error
	for _, rd := range reads {
		rd.mu.Lock()
		if !rd.finished {
			late = append(late, rd.acc.shard)
		} else if rd.err != nil && failed == nil {
			failed = rd.err
		}
		rd.mu.Unlock()
		r.finish(rd, nil)
	}
	switch {
	case ctx.Err() == context.Canceled:
		return errShutdown
	case failed != nil:
		return failed
	}
	return NewError(CodeTransient, "read shards %v: no answer in time", late)
}
