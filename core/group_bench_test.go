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
		b.Run(s.name, func(b *testing.B) {
			var plain, group time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if n := benchPollAll(b, s.bus, benchBatch); n != benchPollTotal {
					b.Fatalf("plain poll read %d events", n)
				}
				plain += time.Since(start)
				start = time.Now()
				benchGroups++
				if n := benchGroupReadAll(b, s.bus, "bench"+strconv.Itoa(benchGroups)); n != benchPollTotal {
					b.Fatalf("group read %d events", n)
				}
				group += time.Since(start)
			}
			benchReportPair(b, "group", group, "plain", plain, b.N*benchPollTotal, b.N*benchPollTotal)
		})
	}
}

var benchGroups int // a new group for every read

// benchGroupReadAll reads a group from its start to its end, committing the
// next_cursor of every poll.
func benchGroupReadAll(b *testing.B, bus *Bus, group string) int {
	poll := []byte(`{"group":"` + group + `","limit":` + strconv.Itoa(benchBatch) + `}`)
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
		if _, err := bus.Commit(commit); err != nil {
			b.Fatalf("commit: %v", err)
		}
		if !bytes.Contains(out[i:], benchHasMore) {
			return total
		}
		if n == 0 || polls > 10*benchPollTotal/benchBatch {
			b.Fatalf("group poll %d: %d events with has_more", polls, n)
		}
	}
}
