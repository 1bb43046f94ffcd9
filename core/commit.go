package core

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func (g *group) cursor(pos cursorPos, owned []int) []byte {
	c := groupCursor{group: g.name, member: g.member, shards: make(map[int]memberPos, len(owned))}
	g.mu.Lock()
	for _, k := range owned {
		if pos.set[k] {
			c.shards[k] = memberPos{pos.seq[k], g.records[k].Epoch}
		}
	}
	g.mu.Unlock()
	return c.encode()
}

// commit stores the positions of a cursor for the shards this member still
// holds at the cursor's epoch, in one compare-and-set of its positions key;
// the other shards are revoked. A position never moves backwards.
func (g *group) commit(ctx context.Context, c groupCursor) (committed, revoked []int, err error) {
	for try := 0; try < 3; try++ {
		var mine map[int]memberPos
		var rev uint64
		mine, rev, committed, revoked = g.merge(c)
		slices.Sort(committed)
		slices.Sort(revoked)
		if len(committed) == 0 {
			return committed, revoked, nil
		}
		val := appendPositions(nil, mine)
		var newRev uint64
		if rev == 0 {
			newRev, err = g.kv.Create(ctx, g.key("p", g.member), val)
		} else {
			newRev, err = g.kv.Update(ctx, g.key("p", g.member), val, rev)
		}
		if err == nil {
			g.stored(mine, newRev)
			return committed, revoked, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSequence(err) {
			return nil, nil, classifyAPIError("group "+g.name+" commit", err)
		}
		g.refreshPositions(ctx) // another write of this member's key came first
	}
	return nil, nil, NewError(CodeTransient, "group %s: commits of member %s raced; retry", g.name, g.member)
}

// merge is this member's positions with c's for the shards it holds at c's
// epochs, and which of c's shards are committed or revoked.
func (g *group) merge(c groupCursor) (mine map[int]memberPos, rev uint64, committed, revoked []int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	mine = map[int]memberPos{}
	for k, p := range g.posOf[g.member] {
		if rec := g.records[k]; rec.Owner == g.member && rec.Epoch == p.epoch {
			mine[k] = p
		}
	}
	lease := g.leaseValid()
	for k, p := range c.shards {
		if rec := g.records[k]; !lease || rec.Owner != g.member || rec.Epoch != p.epoch {
			revoked = append(revoked, k)
			continue
		}
		committed = append(committed, k)
		if old, ok := g.committed(k); !ok || p.seq > old {
			mine[k] = p
		}
	}
	return mine, g.posRev, committed, revoked
}

// stored applies this member's own write of its positions.
func (g *group) stored(mine map[int]memberPos, rev uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rev > g.posRev {
		g.posOf[g.member], g.posRev = mine, rev
	}
}

// refreshPositions reads this member's positions key directly, for a view the
// watcher has not brought up to date yet.
func (g *group) refreshPositions(ctx context.Context) {
	e, err := g.kv.Get(ctx, g.key("p", g.member))
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.applyPositions(g.member, e, false)
}

// groupPoll is a poll of a consumer group: the shards are the ones this member
// holds now, the positions the group's (or this member's own, past them), and
// next_cursor is what mesh_commit takes.
func (b *Bus) groupPoll(req pollRequest) ([]byte, error) {
	ctx, cancel := b.deadline(req.timeout)
	g, err := b.groups.join(ctx, req.group, req.member)
	cancel()
	if err != nil {
		return nil, err
	}
	committed := b.autoCommitting(g, req)
	if req.wait > 0 {
		if err := b.waitForEvents(req); err != nil {
			return nil, err
		}
		defer b.js.index.done()
	}
	waitUntil := time.Now().Add(req.wait)
	for {
		groupChanged, stored := g.changes(), b.js.index.changes()
		res, owned, pos, err := b.groupPollOnce(g, req)
		if err != nil {
			return nil, err
		}
		left := time.Until(waitUntil)
		if res.events > 0 || res.skipped > 0 || res.hasMore || left <= 0 {
			if err := <-committed; err != nil {
				return nil, err
			}
			g.advance(pos, owned, res)
			cursor := g.cursor(pos, owned)
			g.setPending(cursor)
			if res.hasMore {
				b.startReadAhead(g, owned, pos, req)
			}
			return res.encodeWith(quote(cursor), append([]int{}, owned...)), nil
		}
		// Wake at the next event or change of the group, and at least every
		// second: the heartbeat and the assignment are renewed in acquire.
		t := time.NewTimer(min(left, time.Second))
		select {
		case <-stored:
		case <-groupChanged:
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return nil, errShutdown
		}
		t.Stop()
	}
}

// autoCommitting commits the member's previous next_cursor for auto_commit,
// while the poll reads: the channel gives the outcome (nil at once without
// auto_commit). A failed commit fails the poll, and the member's positions do
// not move.
func (b *Bus) autoCommitting(g *group, req pollRequest) <-chan error {
	done := make(chan error, 1)
	if !req.autoCommit {
		done <- nil
		return done
	}
	go func() {
		ctx, cancel := b.deadline(req.timeout)
		defer cancel()
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = NewError(CodeInternal, "internal error (recovered panic in auto_commit): %v", r)
			}
			done <- err
		}()
		err = g.autoCommit(ctx)
	}()
	return done
}

// groupPollOnce brings the holdings up to date and reads the held shards once.
func (b *Bus) groupPollOnce(g *group, req pollRequest) (*pollResult, []int, cursorPos, error) {
	pos := newCursorPos(b.cfg.Shards)
	ctx, cancel := b.deadline(req.timeout)
	owned, err := g.acquire(ctx)
	cancel()
	if err != nil || len(owned) == 0 {
		g.dropReadAhead()
		return &pollResult{}, nil, pos, err
	}
	g.positions(&pos, owned)
	res, ok := g.takeReadAhead(req, owned, &pos, req.timeout)
	if !ok {
		if err := b.placeMissing(&pos, owned, req); err != nil {
			return nil, nil, pos, err
		}
		if res, err = b.pollOnce(&pos, owned, req); err != nil {
			return nil, nil, pos, err
		}
	}
	if !g.stillHeld(owned) {
		// A shard moved (or the lease ran out) while it was read: what was
		// read belongs to its new owner.
		return &pollResult{}, nil, newCursorPos(b.cfg.Shards), nil
	}
	return res, owned, pos, nil
}

func quote(s []byte) []byte {
	return append(append(append(make([]byte, 0, len(s)+2), '"'), s...), '"')
}

func appendInts(dst []byte, ns []int) []byte {
	dst = append(dst, '[')
	for i, n := range ns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	return append(dst, ']')
}

// setPending keeps the last next_cursor for auto_commit.
func (g *group) setPending(cursor []byte) {
	g.mu.Lock()
	g.pending = cursor
	g.mu.Unlock()
}

// autoCommit commits this member's previous next_cursor, as Kafka's
// auto-commit does; shards that moved meanwhile are simply not committed.
func (g *group) autoCommit(ctx context.Context) error {
	g.mu.Lock()
	pending := g.pending
	g.mu.Unlock()
	if pending == nil {
		return nil
	}
	c, err := decodeGroupCursor(string(pending), g.shards)
	if err != nil {
		return err
	}
	_, _, err = g.commit(ctx, c)
	return err
}

// commitJSON is the mesh_commit request.
type commitJSON struct {
	Group     string `json:"group"`
	Cursor    string `json:"cursor"`
	TimeoutMs *int64 `json:"timeout_ms" range:"timeout"`
}

// Commit stores the positions of a group poll's next_cursor for the shards
// this member still holds; it answers {"committed":[…],"revoked":[…]}.
func (b *Bus) Commit(request []byte) (out []byte, err error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.exit()
	defer func() { err = b.result(err) }()

	g, c, timeout, err := b.parseCommit(request)
	if err != nil {
		return nil, err
	}
	ctx, cancel := b.deadline(timeout)
	defer cancel()
	committed, revoked, err := g.commit(ctx, c)
	if err != nil {
		return nil, err
	}
	out = appendInts(append(out, `{"committed":`...), committed)
	out = appendInts(append(out, `,"revoked":`...), revoked)
	return append(out, '}'), nil
}

func (b *Bus) parseCommit(data []byte) (*group, groupCursor, time.Duration, error) {
	var c groupCursor
	if len(data) > b.cfg.MaxRequestBytes {
		return nil, c, 0, NewError(CodeTooLarge, "commit request is %d bytes, over max_request_bytes %d", len(data), b.cfg.MaxRequestBytes)
	}
	data, err := checkJSON("commit request", data)
	if err != nil {
		return nil, c, 0, err
	}
	var j commitJSON
	if err := decodeObject("commit request", "", data, &j); err != nil {
		return nil, c, 0, err
	}
	if j.Group == "" || j.Cursor == "" {
		return nil, c, 0, NewError(CodeInvalidArgument, "commit request: group and cursor are required")
	}
	g := b.groups.get(j.Group)
	if g == nil {
		return nil, c, 0, NewError(CodeInvalidArgument, "this handle is not a member of group %q: poll it first", clip([]byte(j.Group)))
	}
	if c, err = decodeGroupCursor(j.Cursor, b.cfg.Shards); err != nil {
		return nil, c, 0, err
	}
	if c.group != g.name || c.member != g.member {
		return nil, c, 0, NewError(CodeInvalidArgument, "cursor is of group %q member %q, not of this handle's membership of %q",
			clip([]byte(c.group)), clip([]byte(c.member)), g.name)
	}
	timeout := b.cfg.RequestTimeout
	if j.TimeoutMs != nil {
		timeout = time.Duration(*j.TimeoutMs) * time.Millisecond
	}
	return g, c, timeout, nil
}
