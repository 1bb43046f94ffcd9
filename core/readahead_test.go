package core

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// waitReadAhead waits until the group's read-ahead, if any, has finished.
func waitReadAhead(t *testing.T, b *Bus, group string) bool {
	t.Helper()
	g := b.groups.get(group)
	g.mu.Lock()
	a := g.ahead
	g.mu.Unlock()
	if a == nil {
		return false
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the read-ahead did not finish in 10s")
	}
	return true
}

// The batch after a group poll is read while the caller works: the next poll
// of the same request sends no read, and reads on exactly where the last
// ended; a poll with another limit reads afresh from the same place.
func TestGroupReadAheadAnswersNextPoll(t *testing.T) {
	b := openBus(t, fileConfig(t.TempDir(), `,"shards":1`))
	publishEvents(t, b, numberedEvents(0, 3000), "")
	var got []eventJSON
	r := groupPoll(t, b, `{"group":"ra","limit":1000}`)
	got = append(got, r.Events...)
	if len(r.Events) != 1000 || !r.HasMore {
		t.Fatalf("first poll: %d events, has_more %v", len(r.Events), r.HasMore)
	}
	if !waitReadAhead(t, b, "ra") {
		t.Fatal("a poll with has_more started no read-ahead")
	}
	before := b.js.readsSent()
	r = groupPoll(t, b, `{"group":"ra","limit":1000}`)
	got = append(got, r.Events...)
	// The one request is the next read-ahead's, which this poll started.
	waitReadAhead(t, b, "ra")
	if sent := b.js.readsSent() - before; sent != 1 || len(r.Events) != 1000 {
		t.Fatalf("second poll: %d events, %d read requests; want 1000 from the read-ahead and 1 request ahead", len(r.Events), sent)
	}
	commit(t, b, "ra", r.NextCursor)
	waitReadAhead(t, b, "ra")
	before = b.js.readsSent()
	r = groupPoll(t, b, `{"group":"ra","limit":400}`)
	got = append(got, r.Events...)
	waitReadAhead(t, b, "ra")
	if sent := b.js.readsSent() - before; sent != 2 || len(r.Events) != 400 {
		t.Fatalf("poll with another limit: %d events, %d read requests; want 400 read afresh and 1 request ahead", len(r.Events), sent)
	}
	for r.HasMore {
		r = groupPoll(t, b, `{"group":"ra","limit":400}`)
		got = append(got, r.Events...)
	}
	checkExactlyOnce(t, got, 3000)
	for i, e := range got {
		if e.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d of the group's reads is seq %s, want %d", i, e.ID, i+1)
		}
	}
}

// A read-ahead of shards that then moved to another member is never answered:
// every answer holds only shards the member holds in it.
func TestGroupReadAheadDroppedWhenShardsMove(t *testing.T) {
	dir := t.TempDir()
	a := openBus(t, fileConfig(dir, ""))
	b := openBus(t, fileConfig(dir, ""))
	publishEvents(t, a, numberedEvents(0, 3200), "")
	ra := groupPoll(t, a, `{"group":"mv","member":"a","limit":50}`)
	if len(ra.Assigned) != 16 || !waitReadAhead(t, a, "mv") {
		t.Fatalf("a alone holds %v and must have read ahead", ra.Assigned)
	}
	var rb groupResp
	for i := 0; i < 40 && (len(ra.Assigned) != 8 || len(rb.Assigned) != 8); i++ {
		rb = groupPoll(t, b, `{"group":"mv","member":"b","limit":50}`)
		ra = groupPoll(t, a, `{"group":"mv","member":"a","limit":50}`)
		for _, r := range []groupResp{ra, rb} {
			for _, e := range r.Events {
				if !slices.Contains(r.Assigned, e.Shard) {
					t.Fatalf("an answer holds shard %d outside its assignment %v", e.Shard, r.Assigned)
				}
			}
		}
	}
	if len(ra.Assigned) != 8 || len(rb.Assigned) != 8 {
		t.Fatalf("assigned a %v, b %v: want 8 each", ra.Assigned, rb.Assigned)
	}
}
