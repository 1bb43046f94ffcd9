// Command example opens the embedded default bus, publishes a few thousand
// events across its shards and reads them all back by following the cursor.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/netmesh/netmesh/core"
)

type pollResponse struct {
	Events []struct {
		ID    string          `json:"id"`
		Shard int             `json:"shard"`
		TS    string          `json:"ts"`
		Raw   json.RawMessage `json:"raw"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

func main() {
	bus, err := core.Open([]byte(`{"embedded":{"store_dir":"build/demo-data"}}`))
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	// Start at the current end, so a rerun reads only what it publishes.
	var p pollResponse
	mustPoll(bus, `{"limit":1,"start":"latest"}`, &p)
	cursor := p.NextCursor

	const total, batch = 5000, 1000
	start := time.Now()
	for i := 0; i < total; i += batch {
		events := make([]string, 0, batch)
		for j := i; j < i+batch; j++ {
			events = append(events, fmt.Sprintf(`{"user":"u%d","action":"click","n":%d}`, j%97, j))
		}
		out, err := bus.Publish([]byte(`{"events":[` + strings.Join(events, ",") + `]}`))
		if err != nil {
			log.Fatal(err)
		}
		if i == 0 {
			fmt.Printf("publish response: %s\n", out)
		}
	}
	fmt.Printf("published %d events in %v\n", total, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	read, perShard := 0, map[int]int{}
	for {
		mustPoll(bus, fmt.Sprintf(`{"limit":1000,"cursor":%q}`, cursor), &p)
		for i, e := range p.Events {
			if read+i < 3 {
				fmt.Printf("event id=%s shard=%d ts=%s raw=%s\n", e.ID, e.Shard, e.TS, e.Raw)
			}
			perShard[e.Shard]++
		}
		read += len(p.Events)
		cursor = p.NextCursor
		if !p.HasMore {
			break
		}
	}
	fmt.Printf("read back %d events from %d shards in %v\n", read, len(perShard), time.Since(start).Round(time.Millisecond))
	stats, _ := bus.Stats()
	fmt.Printf("stats: %s\n", stats)
	if read != total {
		log.Fatalf("read %d events, published %d", read, total)
	}
}

func mustPoll(bus *core.Bus, req string, into *pollResponse) {
	out, err := bus.Poll([]byte(req))
	if err != nil {
		log.Fatal(err)
	}
	*into = pollResponse{}
	if err := json.Unmarshal(out, into); err != nil {
		log.Fatal(err)
	}
}
