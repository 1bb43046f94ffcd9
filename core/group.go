package core

import (
	"context"
	"crypto/rand"
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
//	g.<group>.s.<shard>   {"owner":…,"epoch":n,"seq":"…"}: who holds the shard,
//	                      and its committed sequence when it last changed hands
//	g.<group>.p.<member>  {"<shard>":["<seq>","<epoch>"],…}: the member's
//	                      commits, one write per commit whatever the shards
//
// Every member computes the same balanced assignment from the live members.
// A shard changes hands only by compare-and-set on its record: its owner
// releases it (owner ""), or another member takes it once the owner's
// heartbeat is older than the session. An owner reads a shard only while its
// own heartbeat is younger than the session less a margin, so a paused member
// has stopped reading before anyone may take its shards over. A commit counts
// for a shard only at the epoch its record holds, so a member that lost a shard
// can never move the new owner's position; whoever takes a shard over carries
// the committed position into its record.

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
	joinMu  sync.Mutex // held by a join, with the bucket
	mu      sync.Mutex // guards groups
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
	// joinMu serializes joins, which talk to the server; mu only guards the
	// map, so stats never waits behind a join.
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	if g := s.get(name); g != nil {
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
	s.mu.Lock()
	s.groups[name] = g
	s.mu.Unlock()
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
	pending  []byte                       // the last next_cursor, for auto_commit
	ahead    *readAhead                   // the next batch, read while the caller works
	posOf    map[string]map[int]memberPos // member -> its committed positions
	posRev   uint64                       // KV revision of this member's positions; 0: none
	applied  uint64                       // the highest KV revision the view holds
	hbRev    uint64                       // the revision of this member's last heartbeat
}

func newGroup(kv jetstream.KeyValue, name, member string, shards int, session time.Duration, log *logger) *group {
	return &group{kv: kv, name: name, member: member, shards: shards, session: session, log: log,
		members: map[string]time.Time{}, posOf: map[string]map[int]memberPos{}, records: make([]groupShard, shards), revs: make([]uint64, shards),
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
		err = g.heartbeat(ctx)
	case <-ctx.Done():
		err = NewError(CodeTransient, "group %s: its state did not arrive in time", g.name)
	}
	if err != nil {
		close(g.stop)
		_ = w.Stop()
	}
	return err
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
	g.applied = max(g.applied, e.Revision())
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
	case "p":
		g.applyPositions(id, e, deleted)
	case "s":
		k, ok := parseUintDec([]byte(id))
		if !ok || k >= uint64(g.shards) {
			return
		}
		if e.Revision() <= g.revs[k] {
			return // this member's own write, newer, is in the view already
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

// applyPositions takes a member's commits; the caller holds g.mu.
func (g *group) applyPositions(member string, e jetstream.KeyValueEntry, deleted bool) {
	if member == g.member && e.Revision() <= g.posRev {
		return // this member's own write, newer, is in the view already
	}
	var ps map[int]memberPos
	ok := !deleted
	if ok {
		ps, ok = parsePositions(e.Value(), g.shards, false)
	}
	if !ok {
		delete(g.posOf, member)
		if member == g.member {
			g.posRev = 0
		}
		return
	}
	g.posOf[member] = ps
	if member == g.member {
		g.posRev = max(g.posRev, e.Revision())
	}
}

// committed is shard k's committed position: its record's, or its holder's
// later commit at the record's epoch. The caller holds g.mu.
func (g *group) committed(k int) (uint64, bool) {
	rec := g.records[k]
	seq, ok := parseUintDec([]byte(rec.Seq))
	if p, has := g.posOf[rec.Owner][k]; has && rec.Owner != "" && p.epoch == rec.Epoch && (!ok || p.seq > seq) {
		return p.seq, true
	}
	return seq, ok
}

// committedText is committed as stored in a record ("" for never).
func (g *group) committedText(k int) string {
	if seq, ok := g.committed(k); ok {
		return strconv.FormatUint(seq, 10)
	}
	return ""
}

// heartbeat writes this member's key; its server timestamp keeps it alive.
func (g *group) heartbeat(ctx context.Context) error {
	sent := time.Now()
	rev, err := g.kv.Put(ctx, g.key("m", g.member), []byte(`{}`))
	if err != nil {
		return classifyAPIError("group "+g.name+" heartbeat", err)
	}
	g.mu.Lock()
	g.hbSent, g.hbRev = sent, max(g.hbRev, rev)
	g.mu.Unlock()
	return nil
}

// caughtUp waits until the view holds this member's last heartbeat, and so
// everything written before it: after a pause the watcher may still be
// delivering what happened meanwhile, and a member must not act on that.
func (g *group) caughtUp(ctx context.Context) error {
	for {
		g.mu.Lock()
		done, changed := g.applied >= g.hbRev, g.changed
		g.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return NewError(CodeTransient, "group %s: its state did not arrive in time", g.name)
		}
	}
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

// changes returns a channel closed at the next change of the group's state.
func (g *group) changes() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
}
