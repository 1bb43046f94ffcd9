package core

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGroupInterleaved reads the 100k pre-loaded events once with plain
// cursor polls and once through a consumer group (one member, a commit after
// every poll of 1000), timed apart in the same op, so the ratio compares them
// under the same load.
func BenchmarkGroupInterleaved(b *testing.B) {
	d := benchPreload(b)
	for _, s := range d.sets {
		for _, auto := range []bool{false, true} {
			b.Run(s.name+"/commit="+map[bool]string{false: "call", true: "auto"}[auto], func(b *testing.B) {
				var plain, group time.Duration
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if n := benchPollAll(b, s.bus, benchBatch); n != benchPollTotal {
						b.Fatalf("plain poll read %d events", n)
					}
					plain += time.Since(start)
					start = time.Now()
					benchGroups++
					if n := benchGroupReadAll(b, s.bus, "bench"+strconv.Itoa(benchGroups), auto); n != benchPollTotal {
						b.Fatalf("group read %d events", n)
					}
					group += time.Since(start)
				}
				benchReportPair(b, "group", group, "plain", plain, b.N*benchPollTotal, b.N*benchPollTotal)
			})
		}
	}
}

var benchGroups int // a new group for every read

// benchGroupReadAll reads a group from its start to its end, committing the
// next_cursor of every poll: with mesh_commit after it, or with auto_commit in
// the next poll (and one mesh_commit at the end).
func benchGroupReadAll(b *testing.B, bus *Bus, group string, auto bool) int {
	poll := []byte(`{"group":"` + group + `","limit":` + strconv.Itoa(benchBatch) + `,"auto_commit":` + strconv.FormatBool(auto) + `}`)
	commit := make([]byte, 0, 512)
	total := 0
	for polls := 0; ; polls++ {
		out, err := bus.Poll(poll)
		if err != nil {
			b.Fatalf("group poll: %v", err)
		}
		n := bytes.Count(out, benchEventMark)
		total += n
		i := bytes.LastIndex(out, benchNextCursor)
		if i < 0 {
			b.Fatalf("group poll answered without next_cursor: %.200s", out)
		}
		c := out[i+len(benchNextCursor):]
		commit = append(append(commit[:0], `{"group":"`+group+`","cursor":"`...), c[:bytes.IndexByte(c, '"')]...)
		commit = append(commit, `"}`...)
		last := !bytes.Contains(out[i:], benchHasMore)
		if !auto || last {
			if _, err := bus.Commit(commit); err != nil {
				b.Fatalf("commit: %v", err)
			}
		}
		if last {
			return total
		}
		if n == 0 || polls > 10*benchPollTotal/benchBatch {
			b.Fatalf("group poll %d: %d events with has_more", polls, n)
		}
	}
}
