package core

import (
	"math/bits"

	"github.com/zeebo/xxh3"
)

// routeShard maps an event to a shard as net-mesh's static mode does:
// xxh3-64 of the event bytes, scaled with (hash * shards) >> 64.
func routeShard(event []byte, shards int) int {
	if shards == 1 {
		return 0
	}
	hi, _ := bits.Mul64(xxh3.Hash(event), uint64(shards))
	return int(hi)
}

func streamName(prefix string, shard int) string {
	return prefix + "_shard_" + itoa(shard)
}

func subjectName(prefix string, shard int) string {
	return prefix + ".shard." + itoa(shard)
}
