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
	a      *Adapter
	prefix string
	sub    *nats.Subscription
	mu     sync.Mutex
	m      map[uint64]*shardRead
	next   uint64
}

func (r *readRouter) start(a *Adapter, prefix string) error {
	r.a, r.prefix, r.m = a, prefix, map[uint64]*shardRead{}
	sub, err := a.nc.Subscribe(prefix+">", func(m *nats.Msg) {
		defer recoverLog(a.log, "read handler")
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
	a := r.a
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
		body = append(body, a.subjects[rd.acc.shard]...)
		body = append(body, `"}`...)
	case modeLast:
		body = append(body, `{"last_by_subj":"`...)
		body = append(body, a.subjects[rd.acc.shard]...)
		body = append(body, `"}`...)
	}
	subj := "$JS.API.DIRECT.GET." + streamName(a.cfg.Prefix, rd.acc.shard)
	return a.nc.PublishRequest(subj, r.reply(rd), body)
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
		// A message of a no_hdr batch: its sequence is known at the EOB.
		if !rd.noHdr {
			return true, 0, NewError(CodeFatal, "read shard %d: reply without headers", acc.shard)
		}
		rd.got++
		rd.bare++
		rd.bareBytes += len(m.Data)
		if !acc.stopped {
			acc.add(0, m.Data)
		}
		return false, 0, nil
	}
	if len(m.Data) == 0 {
		switch m.Header.Get("Status") {
		case "204": // end of batch
			if np, ok := parseUintDec([]byte(m.Header.Get("Nats-Num-Pending"))); ok {
				acc.pending = int64(np)
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
		case "408":
			return true, 0, NewError(CodeTransient, "read shard %d: server timeout", acc.shard)
		case "":
			// an empty stored payload: not a record
		default:
			return true, 0, NewError(CodeFatal, "read shard %d: server answered %s %s",
				acc.shard, m.Header.Get("Status"), m.Header.Get("Description"))
		}
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
	switch rd.mode {
	case modeBatch:
		if m.Header.Get("Nats-Num-Pending") == "" {
			// A server before 2.11 answered one message and will send no EOB.
			r.a.batchGet.Store(false)
			acc.pending = -1
			return true, 0, nil
		}
		return false, 0, nil
	default:
		if acc.stopped || seq == seqMax {
			acc.pending = -1
			return true, 0, nil
		}
		return false, seq + 1, nil
	}
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

// PollShard reads up to limit records of one shard after seq, as net-mesh's
// adapter does; the bus reads several shards at once with readAll.
func (a *Adapter) PollShard(ctx context.Context, shard int, after uint64, limit int, skipCorrupt bool) (*shardAcc, error) {
	if !a.initialized.Load() {
		return nil, errShutdown
	}
	acc := &shardAcc{shard: shard, next: after + 1, pending: -1, skipBad: skipCorrupt}
	if after == seqMax {
		acc.next, acc.pending = seqMax, 0
		return acc, nil
	}
	mode := modeBatch
	if !a.batchGet.Load() {
		mode = modeWalk
	}
	err := a.readAll(ctx, []*shardRead{{acc: acc, want: limit, mode: mode}})
	return acc, err
}

// readAll sends every read at once, then waits for all of them.
func (a *Adapter) readAll(ctx context.Context, reads []*shardRead) error {
	g := newReadGroup(reads)
	var first error
	for i, rd := range reads {
		if err := a.reads.send(rd); err != nil {
			first = wrapError(CodeTransient, err, "read shard %d", rd.acc.shard)
			for _, rest := range reads[i:] {
				a.reads.finish(rest, nil)
			}
			break
		}
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		var late []int
		for _, rd := range reads {
			rd.mu.Lock()
			if !rd.finished {
				late = append(late, rd.acc.shard)
			}
			rd.mu.Unlock()
			a.reads.finish(rd, nil)
		}
		if first == nil {
			if a.isClosing(ctx) {
				first = errShutdown
			} else {
				first = NewError(CodeTransient, "read shards %v: no answer in time", late)
			}
		}
	}
	for _, rd := range reads {
		if rd.err != nil && first == nil {
			first = rd.err
		}
	}
	return first
}

func (a *Adapter) isClosing(ctx context.Context) bool {
	return ctx.Err() == context.Canceled
}
