package core

import (
	"slices"
	"time"
)

// A group member reads its next batch while the caller handles the last one,
// as Kafka consumers fetch ahead: the bus knows where the member reads next.
// The read-ahead answers the next poll only if nothing it rests on changed
// (the same request, shards, epochs and positions) and it left events behind
// (has_more), so answering it later hides nothing a fresh read would show.
type readAhead struct {
	req    pollRequest
	owned  []int
	epochs []uint64
	from   cursorPos // the positions it read from
	pos    cursorPos // and where it ended
	res    *pollResult
	err    error
	done   chan struct{}
}

func (c cursorPos) clone() cursorPos {
	return cursorPos{seq: slices.Clone(c.seq), set: slices.Clone(c.set)}
}

// epochs is the epoch of each owned shard's record. The caller holds g.mu.
func (g *group) epochs(owned []int) []uint64 {
	e := make([]uint64, len(owned))
	for i, k := range owned {
		e[i] = g.records[k].Epoch
	}
	return e
}

// startReadAhead reads the batch after pos in the background; the next poll of
// the group may take it. It counts as a running call, so Close waits for it.
func (b *Bus) startReadAhead(g *group, owned []int, pos cursorPos, req pollRequest) {
	if b.enter() != nil {
		return
	}
	a := &readAhead{req: req, owned: slices.Clone(owned), from: pos.clone(), pos: pos.clone(), done: make(chan struct{})}
	g.mu.Lock()
	a.epochs = g.epochs(owned)
	g.ahead = a
	g.mu.Unlock()
	go func() {
		defer b.exit()
		defer close(a.done)
		defer func() {
			if r := recover(); r != nil {
				a.res, a.err = nil, NewError(CodeInternal, "internal error (recovered panic in read-ahead): %v", r)
			}
		}()
		a.res, a.err = b.pollOnce(&a.pos, a.owned, req)
	}()
}

// takeReadAhead answers a poll of owned from pos with the read-ahead, if there
// is one that still holds; pos then ends where it ended. It waits for one still
// reading at most until wait.
func (g *group) takeReadAhead(req pollRequest, owned []int, pos *cursorPos, wait time.Duration) (*pollResult, bool) {
	g.mu.Lock()
	a := g.ahead
	g.ahead = nil
	g.mu.Unlock()
	if a == nil {
		return nil, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-a.done:
	case <-t.C:
		return nil, false
	}
	if a.err != nil || a.res == nil || !a.res.hasMore || !slices.Equal(a.owned, owned) ||
		a.req.limit != req.limit || a.req.latest != req.latest || a.req.skipCorrupt != req.skipCorrupt {
		return nil, false
	}
	for _, k := range owned {
		if pos.set[k] != a.from.set[k] || pos.seq[k] != a.from.seq[k] {
			return nil, false
		}
	}
	g.mu.Lock()
	same := slices.Equal(a.epochs, g.epochs(owned))
	g.mu.Unlock()
	if !same {
		return nil, false
	}
	*pos = a.pos
	return a.res, true
}

// dropReadAhead forgets the read-ahead, when the member holds nothing.
func (g *group) dropReadAhead() {
	g.mu.Lock()
	g.ahead = nil
	g.mu.Unlock()
}
