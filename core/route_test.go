package core

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/zeebo/xxh3"
)

func TestRouteShardFormula(t *testing.T) {
	inputs := [][]byte{nil, []byte(""), []byte("a"), []byte("abc"), []byte(`{"id":1}`),
		[]byte(`{"id": 1}`), []byte(`"x"`), make([]byte, 1000)}
	for _, ev := range inputs {
		h := xxh3.Hash(ev)
		for _, shards := range []int{1, 2, 3, 7, 16, 1000, 1024} {
			want, _ := bits.Mul64(h, uint64(shards))
			got := routeShard(ev, shards)
			if uint64(got) != want || got < 0 || got >= shards {
				t.Fatalf("routeShard(%q, %d) = %d, want %d", ev, shards, got, want)
			}
		}
	}
}

// Known XXH3-64 values (seed 0) from the xxHash reference, and where they route:
// any change here moves events between shards and breaks compatibility with
// streams net-mesh wrote.
func TestRouteShardStable(t *testing.T) {
	for _, tc := range []struct {
		in         string
		hash       uint64
		s16, s1024 int
	}{
		{"", 0x2d06800538d394c2, 2, 180},
		{"a", 0xe6c632b61e964e1f, 14, 923},
		{"abc", 0x78af5f94892f3950, 7, 482},
	} {
		if h := xxh3.Hash([]byte(tc.in)); h != tc.hash {
			t.Fatalf("xxh3(%q) = %#x, want %#x", tc.in, h, tc.hash)
		}
		if got := routeShard([]byte(tc.in), 16); got != tc.s16 {
			t.Fatalf("routeShard(%q, 16) = %d, want %d", tc.in, got, tc.s16)
		}
		if got := routeShard([]byte(tc.in), 1024); got != tc.s1024 {
			t.Fatalf("routeShard(%q, 1024) = %d, want %d", tc.in, got, tc.s1024)
		}
		if got := routeShard([]byte(tc.in), 1); got != 0 {
			t.Fatalf("routeShard(%q, 1) = %d", tc.in, got)
		}
	}
	// The same bytes always go to the same shard; different whitespace may not.
	a, b := routeShard([]byte(`{"id":1}`), 16), routeShard([]byte(`{"id":1}`), 16)
	if a != b {
		t.Fatal("routing is not deterministic")
	}
}

func TestRouteShardSpread(t *testing.T) {
	const shards, n = 16, 10000
	counts := make([]int, shards)
	for i := 0; i < n; i++ {
		counts[routeShard([]byte(fmt.Sprintf(`{"id":%d,"kind":"event"}`, i)), shards)]++
	}
	for k, c := range counts {
		// 625 expected; 500..750 is five standard deviations either way.
		if c < 500 || c > 750 {
			t.Fatalf("shard %d got %d of %d events: %v", k, c, n, counts)
		}
	}
}

func TestStreamAndSubjectNames(t *testing.T) {
	if s := streamName("netmesh", 12); s != "netmesh_shard_12" {
		t.Fatal(s)
	}
	if s := subjectName("my-prefix", 0); s != "my-prefix.shard.0" {
		t.Fatal(s)
	}
}
