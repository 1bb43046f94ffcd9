package core

import (
	"strconv"
	"testing"
)

// BenchmarkCreateStreamsAtInit opens a bus with create_streams "init" on a new
// file store: one op creates every shard's stream.
func BenchmarkCreateStreamsAtInit(b *testing.B) {
	for _, shards := range []int{16, 256, 1024} {
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bus := benchOpen(b, `{"embedded":{"store_dir":`+strconv.Quote(b.TempDir())+`},"log_level":"error","shards":`+
					strconv.Itoa(shards)+`,"create_streams":"init","request_timeout_ms":60000}`)
				if err := bus.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
