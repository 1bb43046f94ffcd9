package core

import (
	"slices"
	"strconv"
	"time"
)

type pollRequest struct {
	group       string // consumer group; "" for a cursor poll
	member      string
	autoCommit  bool
	limit       int
	cursor      []byte // a view into the request; only during the call
	shard       int    // -1: all
	latest      bool
	wait        time.Duration
	skipCorrupt bool
	timeout     time.Duration
}

// pollJSON is the mesh_poll JSON; pointers are fields that may be null.
type pollJSON struct {
	Limit       int64   `json:"limit" range:"limit"`
	Cursor      []byte  `json:"cursor"` // a string; kept raw so a long cursor is not copied
	Shard       []byte  `json:"shard"`  // 0..shards-1
	Start       *string `json:"start"`
	WaitMs      *int64  `json:"wait_ms" range:"wait"`
	SkipCorrupt bool    `json:"skip_corrupt"`
	TimeoutMs   *int64  `json:"timeout_ms" range:"timeout"`
	Group       *string `json:"group"`
	Member      *string `json:"member"`
	AutoCommit  bool    `json:"auto_commit"`
}

func (b *Bus) parsePoll(data []byte) (pollRequest, error) {
	r := pollRequest{limit: 100, shard: -1, timeout: b.cfg.RequestTimeout}
	if len(data) > b.cfg.MaxRequestBytes {
		return r, NewError(CodeTooLarge, "poll request is %d bytes, over max_request_bytes %d", len(data), b.cfg.MaxRequestBytes)
	}
	data, err := checkJSON("poll request", data)
	if err != nil {
		return r, err
	}
	j := pollJSON{Limit: int64(r.limit)}
	if err := decodeObject("poll request", "", data, &j); err != nil {
		return r, err
	}
	r.limit, r.skipCorrupt = int(j.Limit), j.SkipCorrupt
	if r.cursor, err = rawStringField("cursor", j.Cursor); err != nil {
		return r, err
	}
	if j.Shard != nil {
		n, err := intField("shard", j.Shard, 0, int64(b.cfg.Shards-1))
		if err != nil {
			return r, err
		}
		r.shard = int(n)
	}
	if j.Start != nil {
		switch *j.Start {
		case "earliest":
		case "latest":
			r.latest = true
		default:
			return r, NewError(CodeInvalidArgument, `start must be "earliest" or "latest", got %q`, clip([]byte(*j.Start)))
		}
	}
	r.wait = time.Duration(deref(j.WaitMs)) * time.Millisecond
	if err := r.setGroup(j); err != nil {
		return r, err
	}
	if j.TimeoutMs != nil {
		r.timeout = time.Duration(*j.TimeoutMs) * time.Millisecond
	}
	return r, nil
}

// setGroup checks the group fields: a group's position replaces the cursor.
func (r *pollRequest) setGroup(j pollJSON) error {
	if j.Group == nil {
		if j.Member != nil || j.AutoCommit {
			return NewError(CodeInvalidArgument, "member and auto_commit go with group")
		}
		return nil
	}
	switch {
	case !prefixRe.MatchString(*j.Group):
		return NewError(CodeInvalidArgument, "group must match [A-Za-z0-9_-]{1,64}, got %q", clip([]byte(*j.Group)))
	case j.Member != nil && !prefixRe.MatchString(*j.Member):
		return NewError(CodeInvalidArgument, "member must match [A-Za-z0-9_-]{1,64}, got %q", clip([]byte(*j.Member)))
	case j.Cursor != nil:
		return NewError(CodeInvalidArgument, "a group poll takes no cursor: the group's position replaces it")
	case j.Shard != nil:
		return NewError(CodeInvalidArgument, "a group poll takes no shard: the group assigns shards")
	}
	r.group, r.member, r.autoCommit = *j.Group, deref(j.Member), j.AutoCommit
	return nil
}

// Poll reads up to limit events after the cursor, fairly across the shards it
// considers, waiting up to wait_ms for the first event when there is none.
func (b *Bus) Poll(request []byte) (out []byte, err error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.exit()
	defer func() { err = b.result(err) }()

	req, err := b.parsePoll(request)
	if err != nil {
		return nil, err
	}
	if req.group != "" {
		return b.groupPoll(req)
	}
	pos, err := b.cursors.decode(req.cursor, b.cfg.Shards)
	if err != nil {
		return nil, err
	}
	defer b.cursors.release(pos)
	considered := b.considered(req)
	if req.wait > 0 {
		if err := b.waitForEvents(req); err != nil {
			return nil, err
		}
		defer b.js.index.done()
	}
	if err := b.placeMissing(&pos, considered, req); err != nil {
		return nil, err
	}
	res, err := b.pollWaiting(&pos, considered, req)
	if err != nil {
		return nil, err
	}
	return res.encodeWith(b.cursors.quoted(pos), nil), nil
}

// waitForEvents registers a poll with wait_ms, with the shard subscription in
// place; the caller calls index.done.
func (b *Bus) waitForEvents(req pollRequest) error {
	ctx, cancel := b.deadline(req.timeout)
	defer cancel()
	if err := b.js.index.start(ctx); err != nil {
		return err
	}
	b.js.index.wait()
	return nil
}

// considered lists the shards a poll reads: the request's one, or all.
func (b *Bus) considered(req pollRequest) []int {
	if req.shard >= 0 {
		return []int{req.shard}
	}
	return b.all
}

// pollWaiting polls, and while nothing comes and wait_ms is not over, waits
// for the next event (re-checking every second in case an event reached the
// stream some other way) and polls again.
func (b *Bus) pollWaiting(pos *cursorPos, considered []int, req pollRequest) (*pollResult, error) {
	waitUntil := time.Now().Add(req.wait)
	for {
		changed := b.js.index.changes()
		res, err := b.pollOnce(pos, considered, req)
		if err != nil || res.events > 0 || res.skipped > 0 || res.hasMore {
			return res, err
		}
		left := time.Until(waitUntil)
		if left <= 0 {
			return res, nil
		}
		t := time.NewTimer(min(left, time.Second))
		select {
		case <-changed:
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return nil, errShutdown
		}
		t.Stop()
	}
}

// placeMissing puts shards the cursor does not name at their start: 0 for
// earliest, the shard's last sequence for latest.
func (b *Bus) placeMissing(pos *cursorPos, considered []int, req pollRequest) error {
	ctx, cancel := b.deadline(req.timeout)
	defer cancel()
	var exists []bool
	var reads []*shardRead
	for _, k := range considered {
		if pos.set[k] {
			continue
		}
		pos.set[k] = true
		pos.seq[k] = 0
		if req.latest && exists == nil {
			exists = b.js.streams.existing(ctx)
		}
		if req.latest && exists[k] {
			reads = append(reads, &shardRead{acc: &shardAcc{shard: k}, mode: modeLast})
		}
	}
	if len(reads) == 0 {
		return nil
	}
	if err := b.js.readAll(ctx, reads); err != nil {
		return err
	}
	for _, rd := range reads {
		pos.seq[rd.acc.shard] = rd.acc.lastSeen
	}
	return nil
}

// pollResult is one poll's outcome before encoding.
type pollResult struct {
	accs    []*shardAcc // in shard order
	take    []int       // entries taken per acc
	events  int
	skipped int
	hasMore bool
}

// pollOnce reads the considered shards in rounds, all requests of a round together.
func (b *Bus) pollOnce(pos *cursorPos, considered []int, req pollRequest) (*pollResult, error) {
	ctx, cancel := b.deadline(req.timeout)
	defer cancel()
	exists := b.js.streams.existing(ctx)
	missing := false
	for _, k := range considered {
		missing = missing || !exists[k]
	}
	// With a shard missing, the plan syncs the index: a stream created for an
	// event published before this poll is then known (the index saw its mark).
	plan, err := b.js.index.plan(ctx, considered, pos, missing, req.limit)
	if err != nil {
		return nil, err
	}
	defer b.js.index.release(plan)
	if missing {
		exists = b.js.streams.existing(ctx)
	}
	// Only shards that may hold events past the cursor are read at all, so an
	// idle bus costs the same whatever its shard count.
	var accs []*shardAcc
	var ahead []int64
	var from []int // each acc's index in the plan
	for i, k := range considered {
		if exists[k] && !plan.skip[i] {
			if acc := newShardAcc(k, pos.seq[k], req.skipCorrupt); acc.pending != 0 {
				accs, ahead, from = append(accs, acc), append(ahead, plan.ahead[i]), append(from, i)
			}
		}
	}
	asked := make([]bool, len(accs))
	rot := rotation(accs, pos, req.limit)
	quota := shareQuota(accs, ahead, req.limit, rot)
	for round := 0; round < 8 && quota != nil; round++ {
		reads := b.roundReads(accs, quota)
		if len(reads) == 0 {
			break
		}
		for i, q := range quota {
			asked[i] = asked[i] || q > 0
		}
		if err := b.js.readAll(ctx, reads); err != nil {
			return nil, err
		}
		quota = nil
		if left := leftAfter(accs, ahead, asked, req.limit, b.cfg.MaxRequestBytes); left > 0 {
			quota = shareQuota(accs, ahead, left, rot)
		}
	}
	for i, acc := range accs {
		if asked[i] {
			b.js.index.learn(acc.shard, plan, from[i], pos.seq[acc.shard], acc.lastSeen, acc.pending, acc.endHint)
		}
	}
	res, err := b.settle(pos, accs, req, rot)
	if res != nil && plan.unsure {
		res.hasMore = true
	}
	return res, err
}

// rotation is where a poll starts sharing the limit: the sum of the cursor's
// positions, counted in limits, so each consumer's successive polls move on
// through the shards even when several consumers share a bus.
func rotation(accs []*shardAcc, pos *cursorPos, limit int) int {
	var sum uint64
	for _, acc := range accs {
		sum += pos.seq[acc.shard]
	}
	return int((sum / uint64(limit)) % uint64(max(len(accs), 1)))
}

// shareQuota shares what is left of the limit for one round. Shards of
// unknown content (ahead -1) get an even share. Shards expected to hold events
// get what they hold, from the rotation point on until the limit is covered:
// a poll asks as few shards as it can, each for as many events as it can.
// Shards known to hold nothing get none.
func shareQuota(accs []*shardAcc, ahead []int64, remaining, rot int) []int {
	quota := make([]int, len(accs))
	unknown, open := 0, 0
	for i, acc := range accs {
		switch {
		case acc.stopped || acc.pending == 0:
		case ahead[i] == -1:
			unknown++
			open++
		case ahead[i] > 0:
			open++
		}
	}
	share := (remaining + max(open, 1) - 1) / max(open, 1)
	budget := max(remaining-share*unknown, 0)
	any := false
	for j := range accs {
		i := (rot + j) % len(accs)
		switch {
		case accs[i].stopped || accs[i].pending == 0:
		case ahead[i] == -1:
			quota[i] = share
		case ahead[i] > 0 && budget > 0:
			quota[i] = int(min(ahead[i], int64(budget)))
			budget -= quota[i]
		}
		any = any || quota[i] > 0
	}
	// Shards that probably hold nothing are asked only if the limit is not
	// covered, so that they can prove their end.
	if budget > 0 {
		for i, acc := range accs {
			if ahead[i] == aheadUnconfirmed && !acc.stopped && acc.pending != 0 {
				quota[i], any = share, true
			}
		}
	}
	if !any {
		return nil
	}
	return quota
}

// newShardAcc starts a shard's read after the cursor's position.
func newShardAcc(shard int, after uint64, skipCorrupt bool) *shardAcc {
	acc := &shardAcc{shard: shard, next: after, pending: -1, skipBad: skipCorrupt}
	if after < seqMax {
		acc.next++
	} else {
		acc.pending = 0 // parked at the end
	}
	return acc
}

// roundReads is one request per shard that has a quota and can go on.
func (b *Bus) roundReads(accs []*shardAcc, quota []int) []*shardRead {
	mode := modeBatch
	if !b.js.batchGet.Load() {
		mode = modeWalk
	}
	var reads []*shardRead
	for i, acc := range accs {
		if quota[i] > 0 && !acc.stopped {
			// Room for what is asked (and a no_hdr batch's peek), so the
			// entries grow once.
			acc.entries = slices.Grow(acc.entries, quota[i]+1)
			reads = append(reads, &shardRead{acc: acc, want: quota[i], mode: mode})
		}
	}
	return reads
}

// leftAfter is what a round leaves of the limit, and each shard's expected
// events after it (-1 unknown); 0 when the poll is done.
func leftAfter(accs []*shardAcc, ahead []int64, asked []bool, limit, budget int) int {
	good, bytes := 0, 0
	for i, acc := range accs {
		good += acc.good()
		bytes += acc.bytes
		if asked[i] {
			ahead[i] = acc.pending
		}
	}
	if bytes >= budget {
		return 0
	}
	return max(limit-good, 0)
}

// good counts decodable events.
func (acc *shardAcc) good() int {
	n := 0
	for i := range acc.entries {
		if acc.entries[i].kind == recordGood {
			n++
		}
	}
	return n
}

// waterFill shares total among slots capped by avail, evenly, handing the
// remainder out from position rot so no slot is always last.
func waterFill(avail []int, total, rot int) []int {
	got := make([]int, len(avail))
	for total > 0 {
		open := 0
		for i := range avail {
			if got[i] < avail[i] {
				open++
			}
		}
		if open == 0 {
			break
		}
		share := total / open
		if share == 0 {
			for j := 0; j < len(avail) && total > 0; j++ {
				i := (rot + j) % len(avail)
				if got[i] < avail[i] {
					got[i]++
					total--
				}
			}
			break
		}
		for i := range avail {
			if d := min(share, avail[i]-got[i]); d > 0 {
				got[i] += d
				total -= d
			}
		}
	}
	return got
}

// settle trims to the limit, moves the cursor and applies the corrupt-record rules.
func (b *Bus) settle(pos *cursorPos, accs []*shardAcc, req pollRequest, rot int) (*pollResult, error) {
	res := &pollResult{accs: accs, take: make([]int, len(accs))}
	goods := make([]int, len(accs))
	total := 0
	for i, acc := range accs {
		// Entries up to a corrupt record; the corrupt one itself is never taken.
		for j, e := range acc.entries {
			if e.kind == recordCorrupt && !req.skipCorrupt {
				if j == 0 {
					return nil, NewError(CodeFatal,
						"shard %d seq %d: corrupt record (%s); poll with \"skip_corrupt\":true to pass it",
						acc.shard, e.seq, e.why)
				}
				break
			}
			if e.kind == recordGood {
				goods[i]++
			}
		}
		total += goods[i]
	}
	keep := goods
	if total > req.limit {
		keep = waterFill(goods, req.limit, rot)
	}
	for i, acc := range accs {
		// Take entries until keep[i] good ones; skipped ones before them go too.
		n, taken := 0, 0
		for j, e := range acc.entries {
			if e.kind == recordCorrupt && !req.skipCorrupt {
				break
			}
			if e.kind == recordGood {
				if n == keep[i] {
					break
				}
				n++
			}
			taken = j + 1
		}
		res.take[i] = taken
		if taken > 0 {
			pos.seq[acc.shard] = acc.entries[taken-1].seq
		}
		for _, e := range acc.entries[:taken] {
			if e.kind != recordGood {
				res.skipped++
			}
		}
		res.events += n
		if taken < len(acc.entries) || acc.pending != 0 {
			res.hasMore = true
		}
	}
	b.stats.polled.Add(uint64(res.events))
	b.stats.skipped.Add(uint64(res.skipped))
	return res, nil
}

// encodeWith writes the poll response with cursor (quoted JSON) as next_cursor,
// and for a group poll the shards assigned (nil: no such field).
func (r *pollResult) encodeWith(cursor []byte, assigned []int) []byte {
	size := 96 + len(cursor) + 8*len(assigned)
	for i, acc := range r.accs {
		size += acc.bytes + 64*r.take[i]
	}
	out := make([]byte, 0, size)
	out = append(out, `{"events":[`...)
	first := true
	for i, acc := range r.accs {
		for _, e := range acc.entries[:r.take[i]] {
			if e.kind != recordGood {
				continue
			}
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, `{"id":"`...)
			out = strconv.AppendUint(out, e.seq, 10)
			out = append(out, `","shard":`...)
			out = strconv.AppendInt(out, int64(acc.shard), 10)
			out = append(out, `,"ts":"`...)
			out = strconv.AppendUint(out, e.ts, 10)
			out = append(out, `","raw":`...)
			out = append(out, e.raw...)
			out = append(out, '}')
		}
	}
	out = append(out, `],"next_cursor":`...)
	out = append(out, cursor...)
	out = append(out, `,"has_more":`...)
	out = strconv.AppendBool(out, r.hasMore)
	out = append(out, `,"skipped":`...)
	out = strconv.AppendInt(out, int64(r.skipped), 10)
	if assigned != nil {
		out = appendInts(append(out, `,"assigned":`...), assigned)
	}
	return append(out, '}')
}
