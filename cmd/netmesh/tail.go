package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/netmesh/netmesh/core"
)

const tailHelp = `Usage: netmesh [common flags] tail [--from earliest|latest|CURSOR] [--follow]
         [--limit N] [--batch N] [--shard K | --group G [--member M]] [--skip-corrupt]

Prints events, one JSON line each: the event object of a poll,
  {"id":"<seq in its shard>","shard":K,"ts":"<ns since the epoch>","raw":<the event>}
so it pipes into jq (netmesh tail | jq .raw). Events come shard by shard, each
shard in order.

  --from F     where to begin: earliest (default), latest (only events stored
               from now on), or a cursor printed by an earlier tail
  --follow, -f keep waiting for new events (long polls) until SIGINT or SIGTERM,
               which end it cleanly with exit 0
  --limit N    stop after N events (default 0: no limit)
  --batch N    events per poll (default 1000; 1..10000)
  --shard K    read shard K only
  --group G    read as a member of consumer group G: the bus shares the shards
               among the group's live members and keeps the group's position;
               each batch is committed after it is printed, so the next tail of
               the group goes on after it (a batch that was printed but not
               committed is read again: at-least-once). --from earliest|latest
               applies to shards the group has never committed
  --member M   the member name in the group (default: a new one per run)
  --skip-corrupt
               pass records that did not come from netmesh or net-mesh;
               without it tail stops at one with a fatal error (exit 15)

Without --follow, tail stops when the bus has nothing more, then prints the
last cursor on stderr ("resume with --from CURSOR"); it does so too when a
--follow is stopped.

  netmesh tail | jq -c 'select(.raw.user == "ada")'
  netmesh tail --from latest --follow
  netmesh tail --group billing            # everything the group has not committed

` + commonFlagsHelp

func tailCommand() *command {
	return &command{
		name: "tail", summary: "print events as JSON lines, from a cursor or as a consumer group",
		help: tailHelp,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &tailOptions{}
			fs.StringVar(&o.from, "from", "earliest", "")
			fs.BoolVar(&o.follow, "follow", false, "")
			fs.BoolVar(&o.follow, "f", false, "")
			fs.IntVar(&o.limit, "limit", 0, "")
			fs.IntVar(&o.batch, "batch", 1000, "")
			fs.Var(&o.shard, "shard", "")
			fs.StringVar(&o.group, "group", "", "")
			fs.StringVar(&o.member, "member", "", "")
			fs.BoolVar(&o.skipCorrupt, "skip-corrupt", false, "")
			return o.run
		},
	}
}

type tailOptions struct {
	from          string
	follow        bool
	limit, batch  int
	shard         optInt
	group, member string
	skipCorrupt   bool
}

// followWait is the wait_ms of a --follow poll; a poll that waited in vain is
// simply sent again.
const followWait = 30000

func (o *tailOptions) check() error {
	switch {
	case o.from == "":
		return usagef("tail", "--from needs earliest, latest or a cursor")
	case o.limit < 0:
		return usagef("tail", "--limit must not be negative, got %d", o.limit)
	case o.member != "" && o.group == "":
		return usagef("tail", "--member goes with --group")
	case o.group != "" && o.shard.set:
		return usagef("tail", "--shard and --group exclude each other: the group assigns the shards")
	case o.group != "" && o.from != "earliest" && o.from != "latest":
		return usagef("tail", "--group reads from the group's position: --from takes only earliest or latest with it")
	}
	return nil
}

func (o *tailOptions) run(e *env, c *common, args []string) (err error) {
	if len(args) > 0 {
		return usagef("tail", "tail takes no arguments, got %q", args[0])
	}
	if err := o.check(); err != nil {
		return err
	}
	ctx := e.ctx
	if e.signals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		// After the first signal the default action is back: a second one
		// ends a shutdown that takes too long.
		go func() { <-ctx.Done(); stop() }()
	}
	bus, _, err := c.open("tail")
	if err != nil {
		return err
	}
	t := &tailer{o: o, bus: bus, out: bufio.NewWriterSize(e.stdout, 1<<16), stderr: e.stderr}
	if o.from != "earliest" && o.from != "latest" {
		t.cursor = o.from
	}
	done, watcher := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-ctx.Done():
			t.interrupt()
		case <-done:
		}
	}()
	err = t.loop(ctx)
	close(done)
	<-watcher // a Close begun by an interrupt has ended: the group is left
	if cerr := t.close(); err == nil {
		err = cerr
	}
	t.summary(err)
	return err
}

// tailer is one tail's state. mu guards polling, stopping and closed: an
// interrupt while a poll waits closes the bus, which ends the poll at once;
// one while events are printed or committed lets that finish first.
type tailer struct {
	o      *tailOptions
	bus    *core.Bus
	out    *bufio.Writer
	stderr io.Writer

	cursor    string // the last next_cursor (a plain poll's; a group's is committed)
	polled    bool   // a poll answered
	committed string // the group cursor last committed
	printed   int
	assigned  []int

	mu                        sync.Mutex
	polling, stopping, closed bool
	closeErr                  error // of a Close by interrupt; read after the watcher ended
}

// interrupt stops the tail; a waiting poll is woken by closing the bus (it
// answers shutdown), outside mu so the poll's return is not held up.
func (t *tailer) interrupt() {
	t.mu.Lock()
	t.stopping = true
	wake := t.polling && !t.closed
	if wake {
		t.closed = true
	}
	t.mu.Unlock()
	if wake {
		t.closeErr = t.bus.Close()
	}
}

func (t *tailer) stopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopping
}

func (t *tailer) close() error {
	t.mu.Lock()
	closed := t.closed
	t.closed = true
	t.mu.Unlock()
	if closed {
		return t.closeErr
	}
	return t.bus.Close()
}

// poll sends one poll unless the tail is stopping (ok false).
func (t *tailer) poll(req []byte) (out []byte, ok bool, err error) {
	t.mu.Lock()
	if t.stopping {
		t.mu.Unlock()
		return nil, false, nil
	}
	t.polling = true
	t.mu.Unlock()
	out, err = t.bus.Poll(req)
	t.mu.Lock()
	t.polling = false
	stopping := t.stopping
	t.mu.Unlock()
	if err != nil && stopping && core.CodeOf(err) == core.CodeShutdown {
		return nil, false, nil // interrupted while waiting
	}
	return out, true, err
}

func (t *tailer) request(limit int) []byte {
	o := t.o
	req := strconv.AppendInt([]byte(`{"limit":`), int64(limit), 10)
	switch {
	case o.group != "":
		req = append(append(req, `,"group":`...), jsonString(o.group)...)
		if o.member != "" {
			req = append(append(req, `,"member":`...), jsonString(o.member)...)
		}
	case t.cursor != "":
		req = append(append(req, `,"cursor":`...), jsonString(t.cursor)...)
	}
	if o.from == "earliest" || o.from == "latest" {
		req = append(append(req, `,"start":`...), jsonString(o.from)...)
	}
	if o.shard.set {
		req = strconv.AppendInt(append(req, `,"shard":`...), int64(o.shard.v), 10)
	}
	if o.follow {
		req = strconv.AppendInt(append(req, `,"wait_ms":`...), followWait, 10)
	}
	if o.skipCorrupt {
		req = append(req, `,"skip_corrupt":true`...)
	}
	return append(req, '}')
}

type pollResponse struct {
	Events     []json.RawMessage `json:"events"`
	NextCursor string            `json:"next_cursor"`
	HasMore    bool              `json:"has_more"`
	Skipped    int               `json:"skipped"`
	Assigned   []int             `json:"assigned"`
}

func (t *tailer) loop(ctx context.Context) error {
	o := t.o
	backoff := 250 * time.Millisecond
	idle := 0 // empty polls in a row that claimed has_more
	for o.limit == 0 || t.printed < o.limit {
		limit := o.batch
		if o.limit > 0 {
			limit = min(limit, o.limit-t.printed)
		}
		out, ok, err := t.poll(t.request(limit))
		if !ok {
			return nil
		}
		if err != nil {
			if o.follow && core.CodeOf(err) == core.CodeTransient {
				// A server restarting or a leader moving: a follow rides it out.
				fmt.Fprintf(t.stderr, "netmesh: transient: %v; polling again in %v\n", err, backoff)
				if !sleep(ctx, backoff) {
					return nil
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			return err
		}
		backoff = 250 * time.Millisecond
		t.polled = true
		var r pollResponse
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("unexpected poll response: %v", err)
		}
		if err := t.print(r.Events); err != nil {
			return err
		}
		if o.group != "" {
			t.noteAssigned(r.Assigned)
			// Commit whatever moved, even with no events: a first poll
			// places the shards (--from latest) and that is a position too.
			if r.NextCursor != t.committed {
				if err := t.commit(r.NextCursor); err != nil {
					return err
				}
			}
		} else {
			t.cursor = r.NextCursor
		}
		if t.stopped() {
			return nil
		}
		if !o.follow && len(r.Events) == 0 && r.Skipped == 0 {
			if !r.HasMore {
				return nil
			}
			// has_more can be a false positive once; never spin on it.
			if idle++; idle >= 3 {
				return nil
			}
			continue
		}
		idle = 0
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// print writes the events, one line each, and flushes them before anything
// is committed.
func (t *tailer) print(events []json.RawMessage) error {
	var compact bytes.Buffer
	for _, ev := range events {
		if bytes.ContainsAny(ev, "\r\n") {
			// raw is stored as published, which may span lines; one line per event.
			compact.Reset()
			if err := json.Compact(&compact, ev); err == nil {
				ev = compact.Bytes()
			}
		}
		t.out.Write(ev)
		t.out.WriteByte('\n')
	}
	if err := t.out.Flush(); err != nil {
		return &ioError{fmt.Errorf("writing stdout: %w", err)}
	}
	t.printed += len(events)
	return nil
}

func (t *tailer) commit(cursor string) error {
	req := append(append(append([]byte(`{"group":`), jsonString(t.o.group)...), `,"cursor":`...), jsonString(cursor)...)
	out, err := t.bus.Commit(append(req, '}'))
	if err != nil {
		if t.stopped() && core.CodeOf(err) == core.CodeShutdown {
			fmt.Fprintf(t.stderr, "netmesh: stopped before the last batch was committed; the group reads it again\n")
			return nil
		}
		if t.o.follow && core.CodeOf(err) == core.CodeTransient {
			// The member reads on from its own position; the next commit covers this one.
			fmt.Fprintf(t.stderr, "netmesh: transient: commit: %v; the next commit covers it\n", err)
			return nil
		}
		return err
	}
	t.committed = cursor
	var r struct {
		Revoked []int `json:"revoked"`
	}
	if err := json.Unmarshal(out, &r); err == nil && len(r.Revoked) > 0 {
		fmt.Fprintf(t.stderr, "netmesh: shards %v moved to another member before the commit; it reads their events again\n", r.Revoked)
	}
	return nil
}

// noteAssigned says on stderr which shards this member holds, when that changes.
func (t *tailer) noteAssigned(a []int) {
	if a == nil {
		a = []int{}
	}
	if t.assigned != nil && slices.Equal(t.assigned, a) {
		return
	}
	t.assigned = a
	fmt.Fprintf(t.stderr, "netmesh: group %s: this member holds shards %v\n", t.o.group, a)
}

// summary says how far the tail got, and where to resume. After an error
// before any poll answered, the error says it all.
func (t *tailer) summary(err error) {
	if err != nil && !t.polled {
		return
	}
	what := fmt.Sprintf("%d %s", t.printed, plural(t.printed, "event"))
	switch {
	case t.o.group != "":
		fmt.Fprintf(t.stderr, "netmesh: %s (group %s)\n", what, t.o.group)
	case t.cursor != "":
		fmt.Fprintf(t.stderr, "netmesh: %s; resume with --from %s\n", what, t.cursor)
	default:
		fmt.Fprintf(t.stderr, "netmesh: %s\n", what)
	}
}
