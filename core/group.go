package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Consumer groups. A group's state lives in a JetStream KV bucket of the prefix
// (<prefix>_groups), so every process on the prefix sees the same groups:
//
//	g.<group>.m.<member>  a member's heartbeat; the server's timestamp of its
//	                      last write says whether the member is alive
//	g.<group>.s.<shard>   {"owner":…,"epoch":n,"seq":"…"}: who holds the shard
//	                      and the last committed sequence
//
// Every member computes the same balanced assignment from the live members.
// A shard changes hands only by compare-and-set on its record: its owner
// releases it (owner ""), or another member takes it once the owner's
// heartbeat is older than the session. An owner reads a shard only while its
// own heartbeat is younger than the session less a margin, so a paused member
// has stopped reading before anyone may take its shards over. Commits are
// compare-and-set too, and only by the owner of the epoch the cursor names.

const (
	groupKeyPrefix = "g."
	leaseMargin    = 3 // an owner stops trusting its lease after session*(1-1/leaseMargin)
)

// groupShard is the record of one shard of a group, as stored.
type groupShard struct {
	Owner string `json:"owner"`
	Epoch uint64 `json:"epoch"`
	Seq   string `json:"seq,omitempty"` // last committed sequence; "" never committed
}

// groupSet holds the groups this handle is a member of.
type groupSet struct {
	b       *Bus
	mu      sync.Mutex
	kv      jetstream.KeyValue
	groups  map[string]*group
	defID   string // this handle's member id when a poll names none
	session time.Duration
}

func newGroupSet(b *Bus) *groupSet {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &groupSet{b: b, groups: map[string]*group{}, defID: hex.EncodeToString(id[:]), session: b.cfg.GroupSession}
}

// bucket opens the prefix's group bucket, creating it on first use.
func (s *groupSet) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	if s.kv != nil {
		return s.kv, nil
	}
	js := s.b.js.streams.js
	name := s.b.cfg.Prefix + "_groups"
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		storage := jetstream.FileStorage
		if s.b.cfg.Embedded.Memory && s.b.cfg.URL == "" {
			storage = jetstream.MemoryStorage
		}
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1,
			Replicas: s.b.cfg.Replicas, Storage: storage})
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, classifyAPIError("group bucket "+name, err)
	}
	s.kv = kv
	return kv, nil
}

// join returns the handle's membership of group, starting it on first use.
func (s *groupSet) join(ctx context.Context, name, member string) (*group, error) {
	if member == "" {
		member = s.defID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[name]; g != nil {
		if g.member != member {
			return nil, NewError(CodeInvalidArgument, "this handle is member %q of group %q; one handle is one member of a group", g.member, name)
		}
		return g, nil
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	g := newGroup(kv, name, member, s.b.cfg.Shards, s.session, s.b.log)
	if err := g.start(ctx); err != nil {
		return nil, err
	}
	s.groups[name] = g
	return g, nil
}

// get returns a group this handle is in, or nil.
func (s *groupSet) get(name string) *group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[name]
}

// leave ends every membership at shutdown: shards are released and the
// heartbeat deleted, so the others take over at once.
func (s *groupSet) leave() {
	s.mu.Lock()
	groups := s.groups
	s.groups = map[string]*group{}
	s.mu.Unlock()
	for _, g := range groups {
		g.leave()
	}
}

// group is this handle's view of one group, kept current by a KV watcher.
type group struct {
	kv      jetstream.KeyValue
	name    string
	member  string
	shards  int
	session time.Duration
	log     *logger

	mu       sync.Mutex
	members  map[string]time.Time // member -> server time of its last heartbeat
	records  []groupShard
	revs     []uint64  // KV revision of each shard record; 0: none
	serverAt time.Time // server time of our last heartbeat, and when we saw it
	seenAt   time.Time
	hbSent   time.Time // local time our last acknowledged heartbeat was sent
	local    []uint64  // our read position per owned shard (this epoch)
	localSet []bool
	last     []uint64 // last sequence known per shard, for lag
	changed  chan struct{}
	watcher  jetstream.KeyWatcher
	ready    chan struct{} // closed when the watcher delivered the initial values
	stop     chan struct{}
	pending  []byte // the last next_cursor, for auto_commit
}

func newGroup(kv jetstream.KeyValue, name, member string, shards int, session time.Duration, log *logger) *group {
	return &group{kv: kv, name: name, member: member, shards: shards, session: session, log: log,
		members: map[string]time.Time{}, records: make([]groupShard, shards), revs: make([]uint64, shards),
		local: make([]uint64, shards), localSet: make([]bool, shards), last: make([]uint64, shards),
		changed: make(chan struct{}), ready: make(chan struct{}), stop: make(chan struct{})}
}

func (g *group) key(kind, id string) string {
	return groupKeyPrefix + g.name + "." + kind + "." + id
}

// start watches the group's keys and writes the first heartbeat.
func (g *group) start(ctx context.Context) error {
	w, err := g.kv.Watch(context.Background(), groupKeyPrefix+g.name+".>")
	if err != nil {
		return classifyAPIError("watch group "+g.name, err)
	}
	g.watcher = w
	go g.watch()
	select {
	case <-g.ready:
	case <-ctx.Done():
		_ = w.Stop()
		return NewError(CodeTransient, "group %s: its state did not arrive in time", g.name)
	}
	return g.heartbeat(ctx)
}

// watch applies every change of the group's keys to the view.
func (g *group) watch() {
	defer recoverLog(g.log, "group watcher")
	initial := true
	for {
		select {
		case <-g.stop:
			return
		case e, ok := <-g.watcher.Updates():
			if !ok {
				return
			}
			if e == nil {
				if initial {
					initial = false
					close(g.ready)
				}
				continue
			}
			g.apply(e)
		}
	}
}

func (g *group) apply(e jetstream.KeyValueEntry) {
	rest := strings.TrimPrefix(e.Key(), groupKeyPrefix+g.name+".")
	kind, id, _ := strings.Cut(rest, ".")
	deleted := e.Operation() != jetstream.KeyValuePut
	g.mu.Lock()
	defer g.mu.Unlock()
	switch kind {
	case "m":
		if deleted {
			delete(g.members, id)
		} else {
			g.members[id] = e.Created()
			if id == g.member {
				g.serverAt, g.seenAt = e.Created(), time.Now()
			}
		}
	case "s":
		k, ok := parseUintDec([]byte(id))
		if !ok || k >= uint64(g.shards) {
			return
		}
		var rec groupShard
		if deleted || json.Unmarshal(e.Value(), &rec) != nil {
			rec = groupShard{}
		}
		g.records[k], g.revs[k] = rec, e.Revision()
		if deleted {
			g.revs[k] = 0
		}
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// heartbeat writes this member's key; its server timestamp keeps it alive.
func (g *group) heartbeat(ctx context.Context) error {
	sent := time.Now()
	if _, err := g.kv.Put(ctx, g.key("m", g.member), []byte(`{}`)); err != nil {
		return classifyAPIError("group "+g.name+" heartbeat", err)
	}
	g.mu.Lock()
	g.hbSent = sent
	g.mu.Unlock()
	return nil
}

// leaseValid reports whether this member may still read its shards: its last
// heartbeat is younger than the session less a margin. The caller holds g.mu.
func (g *group) leaseValid() bool {
	return !g.hbSent.IsZero() && time.Since(g.hbSent) < g.session-g.session/leaseMargin
}

// alive lists the live members, sorted, as the server's clock sees them. The
// caller holds g.mu.
func (g *group) alive() []string {
	now := g.serverAt.Add(time.Since(g.seenAt))
	live := []string{g.member} // before the watcher brings our own heartbeat
	for m, at := range g.members {
		if m != g.member && now.Sub(at) < g.session {
			live = append(live, m)
		}
	}
	slices.Sort(live)
	return live
}

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
	stale := g.hbSent.IsZero() || time.Since(g.hbSent) > g.session/leaseMargin
	g.mu.Unlock()
	if stale {
		if err := g.heartbeat(ctx); err != nil {
			return nil, err
		}
	}
	g.mu.Lock()
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
			changes = append(changes, change{k, groupShard{Epoch: rec.Epoch, Seq: rec.Seq}, rev})
		case want && rec.Owner != g.member && (rec.Owner == "" || !liveSet[rec.Owner]):
			changes = append(changes, change{k, groupShard{Owner: g.member, Epoch: rec.Epoch + 1, Seq: rec.Seq}, rev})
		}
	}
	g.mu.Unlock()
	for _, c := range changes {
		if err := g.swap(ctx, c.k, c.rec, c.rev); err != nil {
			return nil, err
		}
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

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

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
		switch {
		case g.localSet[k]:
			pos.seq[k], pos.set[k] = g.local[k], true
		case g.records[k].Seq != "":
			if n, ok := parseUintDec([]byte(g.records[k].Seq)); ok {
				pos.seq[k], pos.set[k] = n, true
			}
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
	for _, acc := range res.accs {
		if acc.pending > 0 {
			g.last[acc.shard] = max(g.last[acc.shard], pos.seq[acc.shard]+uint64(acc.pending))
		}
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

// groupCursor is what a group poll's next_cursor holds and a commit takes.
type groupCursor struct {
	Group  string               `json:"g"`
	Member string               `json:"m"`
	Shards map[string][2]string `json:"s"` // shard -> [seq, epoch]
}

func (g *group) cursor(pos cursorPos, owned []int) []byte {
	c := groupCursor{Group: g.name, Member: g.member, Shards: map[string][2]string{}}
	g.mu.Lock()
	for _, k := range owned {
		if pos.set[k] {
			c.Shards[strconv.Itoa(k)] = [2]string{strconv.FormatUint(pos.seq[k], 10), strconv.FormatUint(g.records[k].Epoch, 10)}
		}
	}
	g.mu.Unlock()
	js, _ := json.Marshal(c)
	return []byte(base64.StdEncoding.EncodeToString(js))
}

// commit stores the positions of a cursor for the shards this member still
// holds at the cursor's epoch; the others are revoked. A position never moves
// backwards.
func (g *group) commit(ctx context.Context, c groupCursor) (committed, revoked []int, err error) {
	for key, v := range c.Shards {
		k64, _ := parseUintDec([]byte(key))
		k := int(k64)
		seq, _ := parseUintDec([]byte(v[0]))
		epoch, _ := parseUintDec([]byte(v[1]))
		ok, err := g.commitShard(ctx, k, seq, epoch)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			committed = append(committed, k)
		} else {
			revoked = append(revoked, k)
		}
	}
	slices.Sort(committed)
	slices.Sort(revoked)
	return committed, revoked, nil
}

func (g *group) commitShard(ctx context.Context, k int, seq, epoch uint64) (bool, error) {
	for try := 0; try < 3; try++ {
		g.mu.Lock()
		rec, rev, lease := g.records[k], g.revs[k], g.leaseValid()
		g.mu.Unlock()
		if rec.Owner != g.member || rec.Epoch != epoch || !lease {
			return false, nil
		}
		if old, ok := parseUintDec([]byte(rec.Seq)); ok && old >= seq {
			return true, nil // never backwards; nothing new to store
		}
		rec.Seq = strconv.FormatUint(seq, 10)
		val, _ := json.Marshal(rec)
		newRev, err := g.kv.Update(ctx, g.key("s", strconv.Itoa(k)), val, rev)
		if err == nil {
			g.mu.Lock()
			if g.revs[k] < newRev {
				g.records[k], g.revs[k] = rec, newRev
			}
			g.mu.Unlock()
			return true, nil
		}
		if !isWrongLastSequence(err) {
			return false, classifyAPIError("group "+g.name+" commit shard "+strconv.Itoa(k), err)
		}
		g.refresh(ctx, k) // our view was behind: read the record and decide again
	}
	return false, nil
}

// refresh reads shard k's record directly, for a view the watcher has not
// brought up to date yet.
func (g *group) refresh(ctx context.Context, k int) {
	e, err := g.kv.Get(ctx, g.key("s", strconv.Itoa(k)))
	if err != nil {
		return
	}
	var rec groupShard
	if json.Unmarshal(e.Value(), &rec) != nil {
		return
	}
	g.mu.Lock()
	if g.revs[k] < e.Revision() {
		g.records[k], g.revs[k] = rec, e.Revision()
	}
	g.mu.Unlock()
}

// changes returns a channel closed at the next change of the group's state.
func (g *group) changes() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
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
			rels = append(rels, rel{k, groupShard{Epoch: rec.Epoch, Seq: rec.Seq}, g.revs[k]})
		}
	}
	g.hbSent = time.Time{}
	g.mu.Unlock()
	for _, r := range rels {
		_ = g.swap(ctx, r.k, r.rec, r.rev)
	}
	_ = g.kv.Delete(ctx, g.key("m", g.member))
	close(g.stop)
	_ = g.watcher.Stop()
}
