package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// groupPoll is a poll of a consumer group: the shards are the ones this member
// holds now, the positions the group's (or this member's own, past them), and
// next_cursor is what mesh_commit takes.
func (b *Bus) groupPoll(req pollRequest) ([]byte, error) {
	ctx, cancel := b.deadline(req.timeout)
	g, err := b.groups.join(ctx, req.group, req.member)
	if err == nil && req.autoCommit {
		err = g.autoCommit(ctx)
	}
	cancel()
	if err != nil {
		return nil, err
	}
	if req.wait > 0 {
		if err := b.waitForEvents(req); err != nil {
			return nil, err
		}
		defer b.js.wake.release()
	}
	waitUntil := time.Now().Add(req.wait)
	for {
		groupChanged, stored := g.changes(), b.js.wake.changed()
		res, owned, pos, err := b.groupPollOnce(g, req)
		if err != nil {
			return nil, err
		}
		left := time.Until(waitUntil)
		if res.events > 0 || res.skipped > 0 || res.hasMore || left <= 0 {
			g.advance(pos, owned, res)
			cursor := g.cursor(pos, owned)
			g.setPending(cursor)
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

// groupPollOnce brings the holdings up to date and reads the held shards once.
func (b *Bus) groupPollOnce(g *group, req pollRequest) (*pollResult, []int, cursorPos, error) {
	pos := newCursorPos(b.cfg.Shards)
	ctx, cancel := b.deadline(req.timeout)
	owned, err := g.acquire(ctx)
	cancel()
	if err != nil || len(owned) == 0 {
		return &pollResult{}, nil, pos, err
	}
	g.positions(&pos, owned)
	if err := b.placeMissing(&pos, owned, req); err != nil {
		return nil, nil, pos, err
	}
	var rot uint64
	for _, k := range owned {
		rot += pos.seq[k]
	}
	res, err := b.pollOnce(&pos, owned, req, int(rot%uint64(len(owned))))
	if err != nil {
		return nil, nil, pos, err
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
	if c.Group != g.name || c.Member != g.member {
		return nil, c, 0, NewError(CodeInvalidArgument, "cursor is of group %q member %q, not of this handle's membership of %q",
			clip([]byte(c.Group)), clip([]byte(c.Member)), g.name)
	}
	timeout := b.cfg.RequestTimeout
	if j.TimeoutMs != nil {
		timeout = time.Duration(*j.TimeoutMs) * time.Millisecond
	}
	return g, c, timeout, nil
}

// decodeGroupCursor reads a group poll's next_cursor strictly: a plain
// cursor, or anything else, is invalid_argument.
func decodeGroupCursor(s string, shards int) (groupCursor, error) {
	var c groupCursor
	bad := NewError(CodeInvalidArgument, "cursor is not the next_cursor of a group poll")
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return c, bad
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Group == "" || c.Member == "" || c.Shards == nil {
		return c, bad
	}
	for key, v := range c.Shards {
		k, ok := parseUintDec([]byte(key))
		_, okSeq := parseUintDec([]byte(v[0]))
		_, okEpoch := parseUintDec([]byte(v[1]))
		if !ok || k >= uint64(shards) || !okSeq || !okEpoch {
			return c, bad
		}
	}
	return c, nil
}
