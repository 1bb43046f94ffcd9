package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netmesh/netmesh/core"
)

// Bounds on every loop of the workload.
const (
	batchBound     = 90 * time.Second // a batch not acknowledged by then is a failure
	maxAttempts    = 500              // publish attempts per batch
	maxBatches     = 1 << 20          // per publisher and phase
	pollLimit      = 1000
	maxPolls       = 1 << 20 // per poller, and for the read back
	catchUpBound   = 2 * time.Minute
	readBackBound  = 5 * time.Minute
	readBackErrors = 60 * time.Second // consecutive transient failures while reading back
	maxSamples     = 5
	maxEventN      = 1 << 28
)

const (
	stateFailed uint8 = 1 // sent, never acknowledged
	stateAcked  uint8 = 2
)

// batch is one publish request of a publisher: events first..first+size-1.
type batch struct {
	id          string
	first, size int
	attempts    int
	acked       bool
}

// publisher publishes numbered events {"p":P,"n":N}, N counting up from 0.
type publisher struct {
	id         int
	rng        *rand.Rand
	state      []uint8 // per N
	batches    []batch
	published  int
	acked      int
	retries    int
	dupEvents  int // events a publish answered as duplicates (an earlier attempt stored them)
	retryCodes map[string]int
	failures   []string
}

// tally counts how often each event {"p","n"} was read.
type tally struct {
	counts     [][]uint8 // [p][n], saturating
	where      [][]uint64
	keepWhere  bool
	total      int
	skipped    int
	unexpected int
	dups       int
	samples    []string
}

// poller follows its own cursor with long polls while the phase runs.
type poller struct {
	id       int
	cursor   string
	seen     tally
	polls    int
	errCodes map[string]int
	problems []string
	caughtUp bool
}

type pollResponse struct {
	Events []struct {
		ID    string          `json:"id"`
		Shard int             `json:"shard"`
		Raw   json.RawMessage `json:"raw"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
	Skipped    int    `json:"skipped"`
}

// faulter injects one fault of a kind; ok is false when nothing was injected
// (a step-down the cluster refused). An error means the phase cannot go on.
type faulter interface {
	kinds() []string
	inject(kind string, rng *rand.Rand) (desc string, ok bool, err error)
}

// phase is one soak run against one server set.
type phase struct {
	name    string
	opt     options
	seed    uint64
	bus     *core.Bus
	faults  faulter
	start   time.Time
	pubs    []*publisher
	pollers []*poller

	published, acked, polled atomic.Int64
	injected                 atomic.Int64
	faultKinds               map[string]int
	faultProblems            []string
}

// result is what a phase found.
type result struct {
	name                                string
	published, acked, readBack          int
	lost, duplicated, notAcked          int
	unexpected, pollerDup, pollerMissed int
	faults                              int
	faultKinds                          map[string]int
	retries, dedupHits                  int
	retryCodes, pollErrCodes            map[string]int
	problems                            []string
	elapsed                             time.Duration
}

func (r *result) failed() bool {
	return r.lost > 0 || r.duplicated > 0 || r.notAcked > 0 || r.unexpected > 0 ||
		r.pollerDup > 0 || r.pollerMissed > 0 || len(r.problems) > 0
}

func (ph *phase) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s %5.1fs] %s\n", ph.name, time.Since(ph.start).Seconds(), fmt.Sprintf(format, args...))
}

func (ph *phase) rng(role uint64) *rand.Rand { return rand.New(rand.NewPCG(ph.seed, role)) }

// run drives publishers, pollers and faults for the phase's duration, then
// reads everything back and checks it.
func (ph *phase) run() result {
	ph.start = time.Now()
	ph.faultKinds = map[string]int{}
	stop := make(chan struct{})  // publishers start no new batch; no new fault
	drain := make(chan struct{}) // pollers catch up to the end and return
	done := make(chan struct{})  // progress lines end

	var wgPub, wgPoll, wgFault sync.WaitGroup
	for i := range ph.opt.pollers {
		q := &poller{id: i, errCodes: map[string]int{}}
		ph.pollers = append(ph.pollers, q)
		wgPoll.Go(func() { ph.follow(q, drain) })
	}
	for i := range ph.opt.publishers {
		p := &publisher{id: i, rng: ph.rng(uint64(100 + i)), retryCodes: map[string]int{}}
		ph.pubs = append(ph.pubs, p)
		wgPub.Go(func() { ph.publish(p, stop) })
	}
	wgFault.Go(func() { ph.runFaults(stop) })
	go ph.progress(done)

	time.Sleep(ph.opt.duration)
	close(stop)
	wgFault.Wait()
	ph.logf("faults over (%d injected); waiting for publishers", ph.injected.Load())
	wgPub.Wait()
	close(drain)
	wgPoll.Wait()
	close(done)
	ph.logf("publishers and pollers done; reading back")

	res := result{name: ph.name, faults: int(ph.injected.Load()), faultKinds: ph.faultKinds,
		retryCodes: map[string]int{}, pollErrCodes: map[string]int{}}
	res.problems = append(res.problems, ph.faultProblems...)
	back, err := ph.readBack()
	if err != nil {
		res.problems = append(res.problems, "read back: "+err.Error())
	}
	ph.check(&res, &back)
	res.elapsed = time.Since(ph.start)
	return res
}

func (ph *phase) progress(done <-chan struct{}) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			ph.logf("published %d, acknowledged %d, polled %d, faults %d",
				ph.published.Load(), ph.acked.Load(), ph.polled.Load(), ph.injected.Load())
		}
	}
}

// batchSize: mostly small batches, some medium, a few large ones that are
// likely to be in flight when a fault hits.
func batchSize(rng *rand.Rand) int {
	switch x := rng.IntN(100); {
	case x < 2:
		return 1000 + rng.IntN(2001)
	case x < 10:
		return 100 + rng.IntN(401)
	default:
		return 1 + rng.IntN(100)
	}
}

func publishRequest(p, b, first, size int) []byte {
	var sb strings.Builder
	sb.Grow(40 + size*24)
	fmt.Fprintf(&sb, `{"batch_id":"p%d-b%d","events":[`, p, b)
	for n := first; n < first+size; n++ {
		if n > first {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"p":%d,"n":%d}`, p, n)
	}
	sb.WriteString("]}")
	return []byte(sb.String())
}

func (ph *phase) publish(p *publisher, stop <-chan struct{}) {
	for b := 0; b < maxBatches; b++ {
		select {
		case <-stop:
			return
		default:
		}
		size := batchSize(p.rng)
		bt := batch{id: fmt.Sprintf("p%d-b%d", p.id, b), first: len(p.state), size: size}
		req := publishRequest(p.id, b, bt.first, size)
		p.published += size
		ph.published.Add(int64(size))
		bt.acked = ph.sendBatch(p, &bt, req)
		st := stateFailed
		if bt.acked {
			st = stateAcked
			p.acked += size
			ph.acked.Add(int64(size))
		}
		for range size {
			p.state = append(p.state, st)
		}
		p.batches = append(p.batches, bt)
		if len(p.state) >= maxEventN-4000 {
			return
		}
		time.Sleep(time.Duration(p.rng.IntN(30)) * time.Millisecond)
	}
}

// sendBatch publishes one request until it is acknowledged, retrying the same
// bytes (same batch_id) after transient, connection and shutdown errors.
func (ph *phase) sendBatch(p *publisher, bt *batch, req []byte) bool {
	deadline := time.Now().Add(batchBound)
	backoff := 100 * time.Millisecond
	for {
		bt.attempts++
		out, err := ph.bus.Publish(req)
		if err == nil {
			var r struct {
				Published  int `json:"published"`
				Duplicates int `json:"duplicates"`
			}
			if jerr := json.Unmarshal(out, &r); jerr != nil || r.Published+r.Duplicates != bt.size {
				p.failures = append(p.failures, fmt.Sprintf("batch %s: response %s for %d events", bt.id, clip(out), bt.size))
			}
			p.dupEvents += r.Duplicates
			return true
		}
		code := core.CodeOf(err)
		p.retryCodes[code.String()]++
		switch code {
		case core.CodeTransient, core.CodeConnection, core.CodeShutdown:
		default:
			p.failures = append(p.failures, fmt.Sprintf("batch %s (%d events) attempt %d: %s error: %v", bt.id, bt.size, bt.attempts, code, err))
			return false
		}
		if bt.attempts >= maxAttempts || time.Now().Add(backoff).After(deadline) {
			p.failures = append(p.failures, fmt.Sprintf("batch %s (%d events) not acknowledged after %d attempts: %s: %v", bt.id, bt.size, bt.attempts, code, err))
			return false
		}
		p.retries++
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func pollRequest(cursor string, waitMs, timeoutMs int) []byte {
	req := fmt.Sprintf(`{"limit":%d,"timeout_ms":%d`, pollLimit, timeoutMs)
	if waitMs > 0 {
		req += fmt.Sprintf(`,"wait_ms":%d`, waitMs)
	}
	if cursor != "" {
		req += `,"cursor":` + strconv.Quote(cursor)
	}
	return []byte(req + "}")
}

func (ph *phase) poll(req []byte) (pollResponse, error) {
	var r pollResponse
	out, err := ph.bus.Poll(req)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("poll response %s: %v", clip(out), err)
	}
	return r, nil
}

// follow long-polls from its own cursor until drain, then reads on without
// waiting until a poll finds nothing more.
func (ph *phase) follow(q *poller, drain <-chan struct{}) {
	draining := false
	var drainDeadline time.Time
	hard := time.Now().Add(ph.opt.duration + batchBound + catchUpBound + time.Minute)
	for range maxPolls {
		if !draining {
			select {
			case <-drain:
				draining, drainDeadline = true, time.Now().Add(catchUpBound)
			default:
			}
		}
		if time.Now().After(hard) || (draining && time.Now().After(drainDeadline)) {
			q.problems = append(q.problems, fmt.Sprintf("poller %d did not catch up in time", q.id))
			return
		}
		wait := 1000
		if draining {
			wait = 0
		}
		r, err := ph.poll(pollRequest(q.cursor, wait, 5000))
		if err != nil {
			code := core.CodeOf(err)
			q.errCodes[code.String()]++
			if code == core.CodeInvalidArgument || code == core.CodeInternal {
				q.problems = append(q.problems, fmt.Sprintf("poller %d: %s error: %v", q.id, code, err))
				return
			}
			time.Sleep(250 * time.Millisecond)
			continue
		}
		q.polls++
		ph.polled.Add(int64(len(r.Events)))
		q.seen.addAll(&r, len(ph.pubs))
		q.cursor = r.NextCursor
		if draining && len(r.Events) == 0 && !r.HasMore && r.Skipped == 0 {
			q.caughtUp = true
			return
		}
	}
	q.problems = append(q.problems, fmt.Sprintf("poller %d: %d polls without catching up", q.id, maxPolls))
}

func (t *tally) addAll(r *pollResponse, pubs int) {
	t.skipped += r.Skipped
	for _, e := range r.Events {
		t.total++
		var ev struct {
			P *int `json:"p"`
			N *int `json:"n"`
		}
		if err := json.Unmarshal(e.Raw, &ev); err != nil || ev.P == nil || ev.N == nil ||
			*ev.P < 0 || *ev.P >= pubs || *ev.N < 0 || *ev.N >= maxEventN {
			t.unexpected++
			t.sample(fmt.Sprintf("unexpected event shard %d id %s: %s", e.Shard, e.ID, clip(e.Raw)))
			continue
		}
		p, n := *ev.P, *ev.N
		for len(t.counts) < pubs {
			t.counts = append(t.counts, nil)
			t.where = append(t.where, nil)
		}
		if n >= len(t.counts[p]) {
			t.counts[p] = append(t.counts[p], make([]uint8, n+1-len(t.counts[p]))...)
			if t.keepWhere {
				t.where[p] = append(t.where[p], make([]uint64, n+1-len(t.where[p]))...)
			}
		}
		seq, _ := strconv.ParseUint(e.ID, 10, 48)
		loc := uint64(e.Shard)<<48 | seq
		switch c := t.counts[p][n]; {
		case c == 0:
			if t.keepWhere {
				t.where[p][n] = loc
			}
		case c >= 1:
			t.dups++
			first := ""
			if t.keepWhere {
				w := t.where[p][n]
				first = fmt.Sprintf(" (first at shard %d seq %d)", w>>48, w&(1<<48-1))
			}
			t.sample(fmt.Sprintf("event p%d n%d read again at shard %d seq %s%s", p, n, e.Shard, e.ID, first))
		}
		if t.counts[p][n] < 255 {
			t.counts[p][n]++
		}
	}
}

func (t *tally) sample(s string) {
	if len(t.samples) < maxSamples {
		t.samples = append(t.samples, s)
	}
}

func (t *tally) count(p, n int) uint8 {
	if p < len(t.counts) && n < len(t.counts[p]) {
		return t.counts[p][n]
	}
	return 0
}

// readBack reads the whole bus from the start with a fresh cursor: plain polls
// until one returns nothing and has_more is false.
func (ph *phase) readBack() (tally, error) {
	back := tally{keepWhere: true}
	cursor := ""
	deadline := time.Now().Add(readBackBound)
	var failingSince time.Time
	for range maxPolls {
		if time.Now().After(deadline) {
			return back, fmt.Errorf("not finished after %v (%d events read)", readBackBound, back.total)
		}
		r, err := ph.poll(pollRequest(cursor, 0, 10000))
		if err != nil {
			if core.CodeOf(err) != core.CodeTransient {
				return back, err
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
			} else if time.Since(failingSince) > readBackErrors {
				return back, fmt.Errorf("transient errors for %v: %v", readBackErrors, err)
			}
			time.Sleep(500 * time.Millisecond)
			continue
		}
		failingSince = time.Time{}
		back.addAll(&r, len(ph.pubs))
		cursor = r.NextCursor
		if len(r.Events) == 0 && !r.HasMore && r.Skipped == 0 {
			return back, nil
		}
	}
	return back, fmt.Errorf("%d polls without reaching the end", maxPolls)
}

// check compares what was acknowledged with what was read back.
func (ph *phase) check(res *result, back *tally) {
	res.readBack = back.total
	res.unexpected = back.unexpected
	var lostSamples, otherSamples []string
	otherSamples = append(otherSamples, back.samples...)
	if back.skipped > 0 {
		res.problems = append(res.problems, fmt.Sprintf("read back skipped %d records", back.skipped))
	}
	for _, q := range ph.pollers {
		res.problems = append(res.problems, q.problems...)
		res.unexpected += q.seen.unexpected
		for c, n := range q.errCodes {
			res.pollErrCodes[c] += n
		}
	}
	for p, pub := range ph.pubs {
		res.published += pub.published
		res.acked += pub.acked
		res.retries += pub.retries
		res.dedupHits += pub.dupEvents
		for c, n := range pub.retryCodes {
			res.retryCodes[c] += n
		}
		res.problems = append(res.problems, pub.failures...)
		for _, bt := range pub.batches {
			if !bt.acked {
				res.notAcked += bt.size
			}
		}
		for n, st := range pub.state {
			c := back.count(p, n)
			if c > 1 {
				res.duplicated++
			}
			if st == stateAcked && c == 0 {
				res.lost++
				if len(lostSamples) < maxSamples {
					bt := pub.batchOf(n)
					lostSamples = append(lostSamples, fmt.Sprintf("lost p%d n%d (batch %s of %d events, acknowledged after %d attempts)",
						p, n, bt.id, bt.size, bt.attempts))
				}
			}
			for _, q := range ph.pollers {
				qc := q.seen.count(p, n)
				if qc > 1 {
					res.pollerDup++
				}
				if st == stateAcked && qc == 0 && q.caughtUp {
					res.pollerMissed++
					if len(otherSamples) < 2*maxSamples {
						otherSamples = append(otherSamples, fmt.Sprintf("poller %d missed p%d n%d", q.id, p, n))
					}
				}
			}
		}
		if p < len(back.counts) {
			for n := len(pub.state); n < len(back.counts[p]); n++ {
				if back.counts[p][n] > 0 {
					res.unexpected++
					otherSamples = append(otherSamples, fmt.Sprintf("read back p%d n%d, which was never sent", p, n))
				}
			}
		}
	}
	for _, q := range ph.pollers {
		for _, s := range q.seen.samples {
			otherSamples = append(otherSamples, fmt.Sprintf("poller %d: %s", q.id, s))
		}
	}
	if res.failed() {
		res.problems = append(res.problems, lostSamples...)
		if len(otherSamples) > 3*maxSamples {
			otherSamples = otherSamples[:3*maxSamples]
		}
		res.problems = append(res.problems, otherSamples...)
	}
}

func (p *publisher) batchOf(n int) batch {
	i := sort.Search(len(p.batches), func(i int) bool { return p.batches[i].first+p.batches[i].size > n })
	if i < len(p.batches) {
		return p.batches[i]
	}
	return batch{id: "?"}
}

// runFaults injects the phase's faults at random moments between 10% and 80%
// of its duration, one at a time, each in its own slot.
func (ph *phase) runFaults(stop <-chan struct{}) {
	rng := ph.rng(1)
	n := ph.opt.faults
	if n <= 0 {
		n = 6 + rng.IntN(5)
	}
	kinds := ph.faults.kinds()
	plan := make([]string, n)
	for i := range plan {
		if i < len(kinds) {
			plan[i] = kinds[i] // every kind at least once
		} else {
			plan[i] = kinds[rng.IntN(len(kinds))]
		}
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	d := ph.opt.duration
	from, to := d/10, d*8/10
	slot := (to - from) / time.Duration(n)
	for i, kind := range plan {
		at := from + time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)/2+1))
		select {
		case <-stop:
			return
		case <-time.After(time.Until(ph.start.Add(at))):
		}
		desc, ok, err := ph.faults.inject(kind, rng)
		switch {
		case err != nil:
			ph.logf("fault %d/%d %s: %v", i+1, n, kind, err)
			ph.faultProblems = append(ph.faultProblems, fmt.Sprintf("fault %s: %v", kind, err))
			return
		case ok:
			ph.injected.Add(1)
			ph.faultKinds[kind]++
			ph.logf("fault %d/%d: %s", i+1, n, desc)
		default:
			ph.logf("fault %d/%d not injected: %s", i+1, n, desc)
		}
	}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
