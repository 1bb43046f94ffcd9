package core

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A member's holdings: the balanced assignment, taking and releasing shards by
// compare-and-set, the positions a poll starts from, and leaving.

// target is the balanced assignment: shard k goes to live[k % len(live)], so
// the members' counts differ by at most one.
func target(live []string, shard int) string {
	return live[shard%len(live)]
}

// acquire brings this member's holdings to the assignment: it refreshes its
// heartbeat when needed, releases shards it should no longer hold, takes those
// it should hold once free (or held by a dead member), and returns the shards
// it holds now.
func (g *group) acquire(ctx context.Context) ([]int, error) {
	g.mu.Lock()
	lapsed := !g.hbSent.IsZero() && !g.leaseValid()
	stale := g.hbSent.IsZero() || time.Since(g.hbSent) > g.session/leaseMargin
	g.mu.Unlock()
	if stale {
		if err := g.heartbeat(ctx); err != nil {
			return nil, err
		}
	}
	if err := g.caughtUp(ctx); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if lapsed {
		// The lease ran out: others may have read and committed since, so
		// read on from the committed positions.
		clear(g.localSet)
	}
	live := g.alive()
	liveSet := map[string]bool{}
	for _, m := range live {
		liveSet[m] = true
	}
	type change struct {
		k   int
		rec groupShard
		rev uint64
	}
	var changes []change
	for k := 0; k < g.shards; k++ {
		rec, rev, want := g.records[k], g.revs[k], target(live, k) == g.member
		switch {
		case rec.Owner == g.member && !want:
			changes = append(changes, change{k, groupShard{Epoch: rec.Epoch, Seq: g.committedText(k)}, rev})
		case want && rec.Owner != g.member && (rec.Owner == "" || !liveSet[rec.Owner]):
			changes = append(changes, change{k, groupShard{Owner: g.member, Epoch: rec.Epoch + 1, Seq: g.committedText(k)}, rev})
		}
	}
	g.mu.Unlock()
	// All compare-and-sets in flight at once: a member joining a group of
	// many shards takes them in one round trip.
	errs := make(chan error, len(changes))
	for _, c := range changes {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					errs <- NewError(CodeInternal, "internal error (recovered panic taking shard %d): %v", c.k, r)
				}
			}()
			errs <- g.swap(ctx, c.k, c.rec, c.rev)
		}()
	}
	var first error
	for range changes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return g.owned(), nil
}

// swap writes shard k's record if it is still at revision rev; a lost race is
// not an error (the next poll sees the new state).
func (g *group) swap(ctx context.Context, k int, rec groupShard, rev uint64) error {
	val, _ := json.Marshal(rec)
	var newRev uint64
	var err error
	if rev == 0 {
		newRev, err = g.kv.Create(ctx, g.key("s", strconv.Itoa(k)), val)
	} else {
		newRev, err = g.kv.Update(ctx, g.key("s", strconv.Itoa(k)), val, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSequence(err) {
		return nil
	}
	if err != nil {
		return classifyAPIError("group "+g.name+" shard "+strconv.Itoa(k), err)
	}
	g.mu.Lock()
	if g.revs[k] < newRev {
		g.records[k], g.revs[k] = rec, newRev
	}
	if rec.Owner == g.member {
		g.localSet[k] = false // start from the committed position
	}
	g.mu.Unlock()
	return nil
}

// isWrongLastSequence is a lost compare-and-set: a clustered stream answers
// with the constant form of the error (10164), a single server with 10071.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == errCodeWrongLastSequenceConstant)
}

// errCodeWrongLastSequenceConstant is nats-server's JSStreamWrongLastSequenceConstantErr.
const errCodeWrongLastSequenceConstant jetstream.ErrorCode = 10164

// owned lists the shards this member holds now with a valid lease.
func (g *group) owned() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.leaseValid() {
		return nil
	}
	var out []int
	for k, rec := range g.records {
		if rec.Owner == g.member {
			out = append(out, k)
		}
	}
	return out
}

// positions fills pos for the owned shards: this member's read position, or
// the committed one, or nothing (start applies).
func (g *group) positions(pos *cursorPos, owned []int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range owned {
		if g.localSet[k] {
			pos.seq[k], pos.set[k] = g.local[k], true
		} else if seq, ok := g.committed(k); ok {
			pos.seq[k], pos.set[k] = seq, true
		}
	}
}

// advance records this member's read positions after a poll, and what it
// learned of each shard's end, for lag.
func (g *group) advance(pos cursorPos, owned []int, res *pollResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range owned {
		if pos.set[k] {
			g.local[k], g.localSet[k] = pos.seq[k], true
			g.last[k] = max(g.last[k], pos.seq[k])
		}
	}
	if res == nil {
		return
	}
	// The shard's end as far as this poll saw: the last sequence it read (taken
	// or not) and the events the server said follow it.
	for _, acc := range res.accs {
		end := acc.lastSeen
		if acc.pending > 0 {
			end += uint64(acc.pending)
		}
		g.last[acc.shard] = max(g.last[acc.shard], end)
	}
}

// stillHeld reports whether every shard in owned is still held with a valid
// lease; a poll whose shards moved meanwhile answers nothing from them.
func (g *group) stillHeld(owned []int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.leaseValid() {
		return false
	}
	for _, k := range owned {
		if g.records[k].Owner != g.member {
			return false
		}
	}
	return true
}

// leave releases this member's shards and deletes its heartbeat.
func (g *group) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g.mu.Lock()
	type rel struct {
		k   int
		rec groupShard
		rev uint64
	}
	var rels []rel
	for k, rec := range g.records {
		if rec.Owner == g.member {
			rels = append(rels, rel{k, groupShard{Epoch: rec.Epoch, Seq: g.committedText(k)}, g.revs[k]})
		}
	}
	g.hbSent = time.Time{}
	g.mu.Unlock()
	for _, r := range rels {
		_ = g.swap(ctx, r.k, r.rec, r.rev)
	}
	_ = g.kv.Delete(ctx, g.key("m", g.member))
	_ = g.kv.Delete(ctx, g.key("p", g.member))
	close(g.stop)
	_ = g.watcher.Stop()
}
