package core

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type groupResp struct {
	pollResp
	Assigned []int `json:"assigned"`
}

type commitResp struct {
	Committed []int `json:"committed"`
	Revoked   []int `json:"revoked"`
}

func groupPoll(t testing.TB, b *Bus, req string) groupResp {
	t.Helper()
	out, err := b.Poll([]byte(req))
	if err != nil {
		t.Fatalf("Poll(%s): %v", req, err)
	}
	var r groupResp
	if err := json.Unmarshal(out, &r); err != nil || r.Assigned == nil {
		t.Fatalf("group poll answer %s: %v", clip(out), err)
	}
	return r
}

func commit(t testing.TB, b *Bus, group, cursor string) commitResp {
	t.Helper()
	out, err := b.Commit([]byte(`{"group":` + jsonQuote(group) + `,"cursor":` + jsonQuote(cursor) + `}`))
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	var r commitResp
	decodeStrict(t, out, &r)
	return r
}

// A group reads 4000 of 10000 events and commits; a new process with the same
// group reads the other 6000, none twice.
func TestGroupResumesByName(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, fileConfig(dir, ""))
	publishEvents(t, b, numberedEvents(0, 10000), "")
	var first []eventJSON
	for len(first) < 4000 {
		r := groupPoll(t, b, `{"group":"billing","limit":1000}`)
		if len(r.Assigned) != 16 {
			t.Fatalf("a lone member holds %v, want all 16 shards", r.Assigned)
		}
		first = append(first, r.Events...)
		if c := commit(t, b, "billing", r.NextCursor); len(c.Revoked) != 0 {
			t.Fatalf("commit revoked %v", c.Revoked)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := openBus(t, fileConfig(dir, ""))
	var rest []eventJSON
	for i := 0; i < 100; i++ {
		r := groupPoll(t, b2, `{"group":"billing","limit":1000,"auto_commit":true}`)
		rest = append(rest, r.Events...)
		if len(r.Events) == 0 && !r.HasMore {
			break
		}
	}
	if len(rest) != 10000-len(first) {
		t.Fatalf("second process read %d events, want %d", len(rest), 10000-len(first))
	}
	checkExactlyOnce(t, append(first, rest...), 10000)
}

// Two members split the shards evenly; when one shuts down, the other holds
// every shard within a second.
func TestGroupMembersShareShardsAndLeave(t *testing.T) {
	dir := t.TempDir()
	a := openBus(t, fileConfig(dir, ""))
	b := openBus(t, fileConfig(dir, ""))
	publishEvents(t, a, numberedEvents(0, 1600), "")
	var ra, rb groupResp
	for i := 0; i < 20; i++ {
		ra = groupPoll(t, a, `{"group":"g","member":"a","limit":50}`)
		rb = groupPoll(t, b, `{"group":"g","member":"b","limit":50}`)
		if len(ra.Assigned) == 8 && len(rb.Assigned) == 8 {
			break
		}
	}
	if len(ra.Assigned) != 8 || len(rb.Assigned) != 8 || slices.ContainsFunc(ra.Assigned, func(k int) bool { return slices.Contains(rb.Assigned, k) }) {
		t.Fatalf("assigned a %v, b %v: want 8 each, disjoint", ra.Assigned, rb.Assigned)
	}
	for _, e := range ra.Events {
		if !slices.Contains(ra.Assigned, e.Shard) {
			t.Fatalf("member a read shard %d it does not hold (%v)", e.Shard, ra.Assigned)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for len(rb.Assigned) != 16 {
		if time.Since(start) > time.Second {
			t.Fatalf("1s after a left, b holds %v", rb.Assigned)
		}
		rb = groupPoll(t, b, `{"group":"g","member":"b","limit":50,"wait_ms":100}`)
	}
}

// A member whose session ran out loses its shards; its late commit is revoked
// and never moves the new owner's position.
func TestGroupCommitIsFenced(t *testing.T) {
	dir := t.TempDir()
	cfg := fileConfig(dir, `,"shards":2,"groups":{"session_ms":1000}`)
	a := openBus(t, cfg)
	b := openBus(t, cfg)
	publishEvents(t, a, numberedEvents(0, 100), "")
	ra := groupPoll(t, a, `{"group":"f","member":"a","limit":10}`)
	if len(ra.Assigned) != 2 {
		t.Fatalf("a alone holds %v", ra.Assigned)
	}
	time.Sleep(1200 * time.Millisecond) // a falls silent past its session
	var rb groupResp
	for start := time.Now(); len(rb.Assigned) != 2; {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("b holds %v after a's session ended", rb.Assigned)
		}
		rb = groupPoll(t, b, `{"group":"f","member":"b","limit":30,"wait_ms":200}`)
	}
	if c := commit(t, b, "f", rb.NextCursor); len(c.Committed) == 0 {
		t.Fatalf("b's commit: %+v", c)
	}
	if c := commit(t, a, "f", ra.NextCursor); len(c.Committed) != 0 || len(c.Revoked) == 0 {
		t.Fatalf("a's late commit: %+v, want revoked", c)
	}
	st := groupStats(t, b, "f")
	for _, sh := range st.Shards {
		if n := mustUint(t, sh.Committed); n <= 5 {
			t.Fatalf("shard %d committed %d: moved back by a's late commit?", sh.Shard, n)
		}
	}
}

type groupStatsJSON struct {
	Group    string `json:"group"`
	Member   string `json:"member"`
	Assigned []int  `json:"assigned"`
	Shards   []struct {
		Shard     int    `json:"shard"`
		Committed string `json:"committed"`
		Lag       uint64 `json:"lag"`
	} `json:"shards"`
}

func groupStats(t testing.TB, b *Bus, group string) groupStatsJSON {
	t.Helper()
	out, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Groups []groupStatsJSON `json:"groups"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	for _, g := range s.Groups {
		if g.Group == group {
			return g
		}
	}
	t.Fatalf("stats has no group %q: %s", group, out)
	return groupStatsJSON{}
}

func TestGroupBadInput(t *testing.T) {
	b := openMem(t, "")
	publishEvents(t, b, numberedEvents(0, 10), "")
	plain := poll(t, b, `{"limit":5}`)
	for _, req := range []string{
		`{"group":"g","cursor":` + jsonQuote(plain.NextCursor) + `}`,
		`{"group":"g","shard":1}`,
		`{"member":"m"}`,
		`{"auto_commit":true}`,
		`{"group":"a.b"}`,
		`{"group":""}`,
		`{"group":"g","member":"x y"}`,
	} {
		_, err := b.Poll([]byte(req))
		wantCode(t, err, CodeInvalidArgument)
	}
	_, err := b.Commit([]byte(`{"group":"g","cursor":` + jsonQuote(plain.NextCursor) + `}`))
	wantCode(t, err, CodeInvalidArgument, "not a member")
	r := groupPoll(t, b, `{"group":"g","limit":5}`)
	other := groupPoll(t, b, `{"group":"h","limit":5}`)
	for _, req := range []string{
		`{"group":"g","cursor":` + jsonQuote(plain.NextCursor) + `}`,
		`{"group":"g","cursor":` + jsonQuote(other.NextCursor) + `}`,
		`{"group":"g","cursor":` + jsonQuote(r.NextCursor) + `,"bogus":1}`,
		`{"group":"g"}`,
		`{"cursor":` + jsonQuote(r.NextCursor) + `}`,
	} {
		_, err := b.Commit([]byte(req))
		wantCode(t, err, CodeInvalidArgument)
	}
	if st := groupStats(t, b, "g"); slices.ContainsFunc(st.Shards, func(s struct {
		Shard     int    `json:"shard"`
		Committed string `json:"committed"`
		Lag       uint64 `json:"lag"`
	}) bool {
		return s.Committed != "0"
	}) {
		t.Fatalf("a refused commit stored something: %+v", st)
	}
	_, err = b.Poll([]byte(`{"group":"g","member":"other"}`))
	wantCode(t, err, CodeInvalidArgument, "one handle is one member")
	if !strings.Contains(fmt.Sprint(r.Assigned), "0") {
		t.Fatalf("assigned %v", r.Assigned)
	}
}
