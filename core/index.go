package core

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// shardIndex is what this handle knows of each shard's end, so that a poll asks
// only the shards that may hold events past its cursor, and an idle bus
// answers in one round trip whatever its shard count.
//
// From its first poll on, the handle subscribes to the shard subjects, where
// every event published by anyone passes as a mark, and to the ticks netmesh
// publishers send with each publish (see publisher.tick). A read that reaches
// a shard's end makes the shard quiet at that sequence, provided no mark came
// in the markLag before the read started (an event is stored a moment after
// its mark). A quiet shard with no newer marks and the cursor at its end holds
// nothing new. A marker sent on this handle's own inbox, delivered through the
// same channel as the marks, proves that every mark the server passed on
// before the poll began has been counted.
type shardIndex struct {
	nc       *nats.Conn
	log      *logger
	subject  string          // the shard subjects
	tickSubj string          // publishers' ticks
	syncSubj string          // this handle's marker subject
	onEvent  func(shard int) // told the shard of every mark
	lag      time.Duration

	mu       sync.Mutex
	end      []uint64 // a quiet shard's end; otherwise what reads suggest, for sharing the limit
	endKnown []bool
	quiet    []bool
	marks    []uint64 // marks counted per shard
	covered  []uint64 // marks a read reaching the end accounted for
	lastMark []time.Time

	ready    chan struct{} // closed once the subscriptions are in place; nil before
	startErr error
	subs     []*nats.Subscription
	sent     uint64        // markers sent
	seen     uint64        // markers come back
	synced   chan struct{} // closed and replaced when a marker comes back
	changed  chan struct{} // closed and replaced on every mark, when watched
	watched  bool
	waiters  int // long polls waiting
	stopped  bool
	off      bool // the server refused the subscription: every poll reads every shard
	quit     chan struct{}
	revalid  time.Time // when every shard was last made to prove its end again
	plans    sync.Pool // *planBufs
}

// markLag bounds how long after its mark an event is stored; in a cluster an
// event (and the interest of a new subscription) may take longer to travel.
const (
	markLag        = 250 * time.Millisecond
	markLagCluster = 2 * time.Second
	// revalidateEvery makes every shard prove its end again now and then, so
	// that an event stored later than markLag after its mark is still found.
	revalidateEvery = 10 * time.Second
	indexBacklog    = 1 << 16
)

func (x *shardIndex) init(nc *nats.Conn, log *logger, prefix, tick, inbox string, shards int, cluster bool, onEvent func(int)) {
	x.nc, x.log, x.onEvent = nc, log, onEvent
	x.subject, x.tickSubj, x.syncSubj = prefix+".shard.*", tick, inbox
	x.lag = markLag
	if cluster {
		x.lag = markLagCluster
	}
	x.end, x.endKnown, x.quiet = make([]uint64, shards), make([]bool, shards), make([]bool, shards)
	x.marks, x.covered, x.lastMark = make([]uint64, shards), make([]uint64, shards), make([]time.Time, shards)
	x.synced, x.changed, x.quit = make(chan struct{}), make(chan struct{}), make(chan struct{})
}

// start puts the subscriptions in place on first use. The subscribe runs on a
// goroutine: behind a write to a server that reads nothing it would block, and
// the poll must still end at its deadline.
func (x *shardIndex) start(ctx context.Context) error {
	x.mu.Lock()
	if x.stopped {
		x.mu.Unlock()
		return errShutdown
	}
	if x.ready == nil || x.startErr != nil {
		x.ready, x.startErr = make(chan struct{}), nil
		go x.subscribe(x.ready)
	}
	ready := x.ready
	x.mu.Unlock()
	select {
	case <-ready:
		x.mu.Lock()
		defer x.mu.Unlock()
		if x.startErr != nil {
			return wrapError(CodeTransient, x.startErr, "shard subscription")
		}
		return nil
	case <-ctx.Done():
		return NewError(CodeTransient, "shard subscription: the server did not take it in time")
	}
}

// subscribe delivers the marks and this handle's markers into one channel, in
// the order the server sent them, to one goroutine.
func (x *shardIndex) subscribe(ready chan struct{}) {
	defer recoverLog(x.log, "shard subscription")
	msgs := make(chan *nats.Msg, indexBacklog)
	var subs []*nats.Subscription
	var err error
	for _, subj := range []string{x.subject, x.tickSubj, x.syncSubj} {
		var sub *nats.Subscription
		if sub, err = x.nc.ChanSubscribe(subj, msgs); err != nil {
			break
		}
		subs = append(subs, sub)
	}
	if err == nil {
		// A refused subscription shows only as an error the server sends
		// back, before the flush's answer.
		err = x.nc.FlushTimeout(5 * time.Second)
		if le := x.nc.LastError(); err == nil && x.refused(le) {
			x.disable(le)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err != nil || x.stopped {
		for _, sub := range subs {
			go unsubscribe(sub)
		}
		if err == nil {
			err = errShutdown
		}
		x.startErr = err
		close(ready)
		return
	}
	x.subs = subs
	x.invalidateLocked()
	go x.run(msgs, x.quit)
	close(ready)
}

// refused reports whether err is the server's refusal of the shard subscription.
func (x *shardIndex) refused(err error) bool {
	return x.subject != "" && errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+x.subject+`"`)
}

// disable makes every poll read every shard, as without an index.
func (x *shardIndex) disable(why error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.off {
		x.off = true
		x.log.Warnf("polls read every shard: %v", why)
	}
}

// owns reports whether sub is one of the index's, for the slow-consumer handler.
func (x *shardIndex) owns(sub *nats.Subscription) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range x.subs {
		if s == sub {
			return true
		}
	}
	return false
}

// unsubscribe runs on its own goroutine, for the same reason as subscribe.
func unsubscribe(sub *nats.Subscription) { _ = sub.Unsubscribe() }

// run takes the messages in order; nats.go never closes a channel it was
// given, so stop ends it.
func (x *shardIndex) run(msgs chan *nats.Msg, quit chan struct{}) {
	defer recoverLog(x.log, "shard subscription")
	for {
		select {
		case m := <-msgs:
			x.take(m)
		case <-quit:
			return
		}
	}
}

// take counts a mark, or notes a marker come back.
func (x *shardIndex) take(m *nats.Msg) {
	if m.Subject == x.syncSubj {
		n, _ := strconv.ParseUint(string(m.Data), 10, 64)
		x.mu.Lock()
		if n > x.seen {
			x.seen = n
			close(x.synced)
			x.synced = make(chan struct{})
		}
		x.mu.Unlock()
		return
	}
	now := time.Now()
	if m.Subject == x.tickSubj {
		for _, f := range bytes.Split(m.Data, []byte{','}) {
			if k, ok := parseUintDec(f); ok {
				x.mark(k, now)
			}
		}
		return
	}
	if k, ok := parseUintDec([]byte(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])); ok {
		x.mark(k, now)
	}
}

// mark counts a mark of shard k, notes its stream exists, and wakes long polls.
func (x *shardIndex) mark(k uint64, now time.Time) {
	if k >= uint64(len(x.marks)) {
		return
	}
	x.onEvent(int(k))
	x.mu.Lock()
	defer x.mu.Unlock()
	x.marks[k]++
	x.lastMark[k] = now
	if x.watched {
		close(x.changed)
		x.changed, x.watched = make(chan struct{}), false
	}
}

// sync returns once every mark the server passed on before the call has been
// counted: one round trip.
func (x *shardIndex) sync(ctx context.Context) error {
	x.mu.Lock()
	x.sent++
	n := x.sent
	x.mu.Unlock()
	// Published from a goroutine for the same reason as subscribe.
	failed := make(chan error, 1)
	go func() {
		defer recoverLog(x.log, "shard marker")
		failed <- x.nc.Publish(x.syncSubj, strconv.AppendUint(nil, n, 10))
	}()
	for {
		x.mu.Lock()
		done, synced := x.seen >= n, x.synced
		x.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-synced:
		case err := <-failed:
			if err != nil {
				return wrapError(CodeTransient, err, "shard marker")
			}
			failed = nil
		case <-ctx.Done():
			return NewError(CodeTransient, "shard marker: no answer in time")
		}
	}
}

// invalidate makes every shard prove its end again, with a read that starts
// markLag from now: after a (re)subscription or a slow-consumer drop, marks of
// events being stored now may be missing.
func (x *shardIndex) invalidate() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.invalidateLocked()
}

func (x *shardIndex) invalidateLocked() {
	now := time.Now()
	for k := range x.lastMark {
		x.lastMark[k] = now
	}
	x.revalidateLocked(now)
}

// revalidateLocked makes every shard prove its end again with its next read.
func (x *shardIndex) revalidateLocked(now time.Time) {
	clear(x.quiet)
	x.revalid = now
	if x.watched {
		close(x.changed)
		x.changed, x.watched = make(chan struct{}), false
	}
}

// aheadUnconfirmed is a shard read to its end too recently to be quiet: it
// probably holds nothing, and is asked only when the limit is not filled.
const aheadUnconfirmed = -2

// indexPlan is what the index says of the considered shards for one poll.
type indexPlan struct {
	skip   []bool  // nothing past the cursor
	unsure bool    // some shard was skipped without a sync
	ahead  []int64 // events expected past the cursor; -1 unknown, or aheadUnconfirmed
	marks  []uint64
	at     time.Time
}

// newPlan takes a plan's slices from the pool: at 1024 shards they are most
// of what an empty poll allocates. Give them back with release.
func (x *shardIndex) newPlan(n int) indexPlan {
	p := indexPlan{at: time.Now()}
	if b, ok := x.plans.Get().(*planBufs); ok && cap(b.skip) >= n {
		p.skip, p.ahead, p.marks = b.skip[:n], b.ahead[:n], b.marks[:n]
		clear(p.skip)
		return p
	}
	p.skip, p.ahead, p.marks = make([]bool, n), make([]int64, n), make([]uint64, n)
	return p
}

// release gives p's slices back; p is not used after it.
func (x *shardIndex) release(p indexPlan) {
	if p.skip != nil {
		x.plans.Put(&planBufs{skip: p.skip, ahead: p.ahead, marks: p.marks})
	}
}

type planBufs struct {
	skip  []bool
	ahead []int64
	marks []uint64
}

// plan tells, per considered shard, whether it can hold events past pos and
// how many it is expected to hold. When some shard looks empty (or sync is
// asked) the index is synced first, so an event published before the poll
// began is never missed; unless shards known to hold events fill the limit:
// then the empty-looking ones are skipped unsynced (unsure), and the answer
// says has_more whatever the reads find.
func (x *shardIndex) plan(ctx context.Context, considered []int, pos *cursorPos, sync bool, limit int) (indexPlan, error) {
	if err := x.start(ctx); err != nil {
		return indexPlan{}, err
	}
	unsynced := false
	if sync || x.anyQuiet(considered, pos) { // never quiet with off
		if unsynced = !sync && x.filled(considered, pos, limit); !unsynced {
			if err := x.sync(ctx); err != nil {
				return indexPlan{}, err
			}
		}
	}
	p := x.newPlan(len(considered))
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.off {
		for i := range p.ahead {
			p.ahead[i] = -1
		}
		return p, nil
	}
	if time.Since(x.revalid) >= revalidateEvery {
		x.revalidateLocked(time.Now())
	}
	for i, k := range considered {
		c := pos.seq[k]
		p.marks[i] = x.marks[k]
		fresh := x.marks[k] == x.covered[k]
		switch {
		case x.quiet[k] && fresh && c >= x.end[k]:
			p.skip[i] = true
			p.unsure = p.unsure || unsynced
		case x.endKnown[k] && fresh && x.end[k] > c:
			p.ahead[i] = int64(x.end[k] - c)
		case x.endKnown[k] && fresh:
			p.ahead[i] = aheadUnconfirmed
		default:
			p.ahead[i] = -1
		}
	}
	return p, nil
}

// filled reports whether the shards known to hold events past pos hold at
// least limit of them.
func (x *shardIndex) filled(considered []int, pos *cursorPos, limit int) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	var n uint64
	for _, k := range considered {
		if c := pos.seq[k]; x.endKnown[k] && x.marks[k] == x.covered[k] && x.end[k] > c {
			if n += x.end[k] - c; n >= uint64(limit) {
				return true
			}
		}
	}
	return false
}

func (x *shardIndex) anyQuiet(considered []int, pos *cursorPos) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, k := range considered {
		if x.quiet[k] && pos.seq[k] >= x.end[k] {
			return true
		}
	}
	return false
}

// learn takes what a read of shard k found: it started at plan time after
// from, saw events up to last, and pending (-1 unknown) follow; endHint is the
// end the server's count suggests (0 unknown).
func (x *shardIndex) learn(k int, p indexPlan, i int, from, last uint64, pending int64, endHint uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	top := max(from, last)
	switch {
	case x.off:
	case pending == 0:
		x.end[k], x.endKnown[k] = top, true
		if !p.at.Before(x.lastMark[k].Add(x.lag)) && p.marks[i] >= x.covered[k] {
			x.quiet[k], x.covered[k] = true, p.marks[i]
		}
	case pending > 0:
		x.end[k], x.endKnown[k] = max(x.end[k], top+uint64(pending)), true
	case endHint > top:
		x.end[k], x.endKnown[k] = max(x.end[k], endHint), true
	}
}

// learnEnd takes a sequence this handle's publish stored on shard k: the
// shard ends at or after it (a poll after its own publishes knows where to read).
func (x *shardIndex) learnEnd(k int, seq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if k < len(x.end) && (!x.endKnown[k] || seq > x.end[k]) {
		x.end[k], x.endKnown[k] = max(x.end[k], seq), true
	}
}

// changes returns a channel closed at the next mark.
func (x *shardIndex) changes() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.watched = true
	return x.changed
}

// wait and done count long polls, for tests and stats.
func (x *shardIndex) wait() {
	x.mu.Lock()
	x.waiters++
	x.mu.Unlock()
}

func (x *shardIndex) done() {
	x.mu.Lock()
	x.waiters--
	x.mu.Unlock()
}

func (x *shardIndex) stop() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped {
		return
	}
	x.stopped = true
	for _, sub := range x.subs {
		go unsubscribe(sub)
	}
	x.subs = nil
	close(x.quit)
	close(x.changed)
	x.changed = make(chan struct{})
}
