package core

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamSet owns the shard streams: one per shard, created on first use with
// net-mesh's settings, once per shard even under concurrent first use.
type streamSet struct {
	js       jetstream.JetStream
	cfg      *busConfig
	names    []string // per shard
	subjects []string // per shard
	slots    []streamSlot
	all      []bool // every shard true: existing's answer once every stream is ready
	listed   listing
	old      bool // a 2.9 server (see oldServerSettle)
	// batchable: the server has fast batch publishing (2.14+), so streams
	// this handle creates ask for allow_batched. Older servers never see the
	// field.
	batchable bool
}

type streamSlot struct {
	mu    sync.Mutex
	ready atomic.Bool
	// batched: the stream's own config, as the server last reported it, has
	// allow_batched; only then do publishes take the fast batch path.
	batched atomic.Bool
}

// listEvery bounds how often a handle lists the prefix's streams to learn
// which shards exist; a stream created elsewhere is seen within this long.
const listEvery = time.Second

// listing is the last list of the prefix's streams.
type listing struct {
	mu     sync.Mutex
	at     time.Time
	exists []bool
	since  []time.Time // when each shard was first listed
}

// oldServerSettle is how long a 2.9 server's newly listed stream is left
// alone: nats-server 2.9.10 lists a stream before it answers direct gets on
// it, and leaves such a get unanswered.
const oldServerSettle = time.Second

func newStreamSet(js jetstream.JetStream, cfg *busConfig, subjects []string) *streamSet {
	s := &streamSet{js: js, cfg: cfg, subjects: subjects,
		names: make([]string, cfg.Shards), slots: make([]streamSlot, cfg.Shards), all: make([]bool, cfg.Shards)}
	for k := range s.names {
		s.names[k] = streamName(cfg.Prefix, k)
		s.all[k] = true
	}
	return s
}

// ensureAll makes sure the stream of every shard with a nonzero count exists.
func (s *streamSet) ensureAll(ctx context.Context, perShard []uint32) error {
	for k, c := range perShard {
		if c > 0 {
			if err := s.ensure(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureEvery creates every shard's stream at once, many requests in flight,
// for a bus that should not create streams on its first publishes.
func (s *streamSet) ensureEvery(timeout time.Duration) error {
	const inFlight = 64
	sem := make(chan struct{}, inFlight)
	errs := make(chan error, len(s.slots))
	for k := range s.slots {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					errs <- NewError(CodeInternal, "internal error (recovered panic creating stream %d): %v", k, r)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			errs <- s.ensure(ctx, k)
		}()
	}
	var first error
	for range s.slots {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ensure creates the shard's stream on first use; an existing stream is used
// as it is. Concurrent first uses of one shard make one request.
func (s *streamSet) ensure(ctx context.Context, shard int) error {
	slot := &s.slots[shard]
	if slot.ready.Load() {
		return nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.ready.Load() {
		return nil
	}
	st, err := s.js.Stream(ctx, s.names[shard])
	if err == nil {
		if err := s.checkExisting(st.CachedInfo().Config, shard); err != nil {
			return err
		}
	} else if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.js.CreateStream(ctx, s.config(shard))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, s.names[shard]) // created concurrently elsewhere
		}
	}
	if err != nil {
		return classifyAPIError("stream "+s.names[shard], err)
	}
	slot.batched.Store(s.batchable && st.CachedInfo().Config.AllowBatchPublish)
	slot.ready.Store(true)
	return nil
}

// batched reports whether publishes to the shard may use a fast batch: its
// stream, as last seen, allows them.
func (s *streamSet) batched(shard int) bool { return s.slots[shard].batched.Load() }

// notBatched turns the fast path off for a shard whose stream refused a fast
// batch (its config was changed since): publishes go per message until the
// stream is looked at again.
func (s *streamSet) notBatched(shard int) { s.slots[shard].batched.Store(false) }

// existing reports, per shard, whether its stream may exist: a read of a
// missing stream gets no answer at all from some servers (2.9.10) instead of
// "no responders", so polls do not ask such shards. Shards this handle made
// ready exist; for the others the prefix's streams are listed, at most once per
// listEvery. If the list cannot be had, every shard may exist. The caller
// must not change the slice.
func (s *streamSet) existing(ctx context.Context) []bool {
	if s.everyReady() {
		return s.all
	}
	s.listed.mu.Lock()
	defer s.listed.mu.Unlock()
	out, all := s.known()
	if !all && time.Since(s.listed.at) >= listEvery {
		s.listed.exists, s.listed.at = s.list(ctx), time.Now()
		s.noteSince()
		out, all = s.known()
	}
	if !all && s.listed.exists == nil { // the list failed: assume nothing
		for k := range out {
			out[k] = true
		}
	}
	return out
}

func (s *streamSet) everyReady() bool {
	for k := range s.slots {
		if !s.slots[k].ready.Load() {
			return false
		}
	}
	return true
}

// saw marks shard k as having a stream: an event seen on it was stored (or is
// being), so polls read it without waiting for a list.
func (s *streamSet) saw(k int) {
	s.listed.mu.Lock()
	defer s.listed.mu.Unlock()
	// Once per shard: every event of a polling handle passes here.
	if s.listed.exists != nil && !s.listed.exists[k] {
		s.listed.exists[k] = true
		s.noteSince()
	}
}

// noteSince records when each listed shard was first seen; the caller holds
// s.listed.mu.
// Streams in the first list are old enough already: the wait is only for
// streams created while this handle runs.
func (s *streamSet) noteSince() {
	now := time.Now()
	if s.listed.since == nil {
		s.listed.since = make([]time.Time, len(s.slots))
		now = now.Add(-oldServerSettle)
	}
	for k, ok := range s.listed.exists {
		if ok && s.listed.since[k].IsZero() {
			s.listed.since[k] = now
		}
	}
}

// known is what is known to exist now; the caller holds s.listed.mu.
func (s *streamSet) known() (out []bool, all bool) {
	out, all = make([]bool, len(s.slots)), true
	for k := range out {
		listed := s.listed.exists != nil && s.listed.exists[k] &&
			(!s.old || time.Since(s.listed.since[k]) >= oldServerSettle)
		out[k] = s.slots[k].ready.Load() || listed
		all = all && out[k]
	}
	return out, all
}

// list returns which shard streams exist, or nil when the server did not say.
func (s *streamSet) list(ctx context.Context) []bool {
	ctx, cancel := context.WithTimeout(ctx, min(s.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	names := s.js.StreamNames(ctx, jetstream.WithStreamListSubject(s.cfg.Prefix+".shard.*"))
	exists := make([]bool, len(s.slots))
	head := s.cfg.Prefix + "_shard_"
	for name := range names.Name() {
		if k, ok := parseUintDec([]byte(strings.TrimPrefix(name, head))); ok && strings.HasPrefix(name, head) && k < uint64(len(exists)) {
			exists[k] = true
		}
	}
	if names.Err() != nil {
		return nil
	}
	return exists
}

// gone marks a shard's stream for re-creation (e.g. after it was deleted).
func (s *streamSet) gone(shard int) { s.slots[shard].ready.Store(false) }

// checkExisting accepts a stream made elsewhere (net-mesh, an operator) as it is,
// unless netmesh could not work with it.
func (s *streamSet) checkExisting(c jetstream.StreamConfig, shard int) error {
	if !c.AllowDirect {
		return NewError(CodeFatal, "stream %s exists without allow_direct; netmesh reads it with direct gets", c.Name)
	}
	for _, subj := range c.Subjects {
		if subj == s.subjects[shard] {
			return nil
		}
	}
	return NewError(CodeFatal, "stream %s exists without the subject %s", c.Name, s.subjects[shard])
}

func (s *streamSet) config(shard int) jetstream.StreamConfig {
	c := jetstream.StreamConfig{
		Name:        s.names[shard],
		Subjects:    []string{s.subjects[shard]},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
		Duplicates:  s.cfg.DedupWindow,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      s.cfg.MaxAge,
		// Servers before 2.14 must not receive the field; they are never
		// asked for it.
		AllowBatchPublish: s.batchable,
	}
	if s.cfg.Embedded.Memory && s.cfg.URL == "" {
		c.Storage = jetstream.MemoryStorage
	}
	if s.cfg.MaxMessages > 0 {
		c.MaxMsgs = s.cfg.MaxMessages
	}
	if s.cfg.MaxBytes > 0 {
		c.MaxBytes = s.cfg.MaxBytes
	}
	return c
}
