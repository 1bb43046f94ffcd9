// Command dedupmem measures what the dedup window costs the server: it
// publishes the same events through netmesh to a fresh nats-server process once
// with each window and prints the server's RSS before and a few seconds after.
//
//	go run ./bench/dedupmem -server build/tools/nats-server -windows 3600000,2000
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netmesh/netmesh/bench/internal/harness"
	"github.com/netmesh/netmesh/core"
)

func main() {
	server := flag.String("server", "build/tools/nats-server", "nats-server binary")
	data := flag.String("data", "build/bench/dedupmem-data", "server store (emptied first)")
	windows := flag.String("windows", "3600000,2000", "dedup_window_ms values")
	requests := flag.Int("requests", 1000, "publish requests of 1000 events each")
	flag.Parse()
	for _, w := range strings.Split(*windows, ",") {
		win, err := strconv.ParseInt(w, 10, 64)
		if err == nil {
			err = run(*server, filepath.Join(*data, w), win, *requests)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dedupmem:", err)
			os.Exit(1)
		}
	}
}

func run(bin, dir string, window int64, requests int) error {
	srv, err := harness.StartServer(bin, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	bus, err := core.Open([]byte(fmt.Sprintf(`{"url":%q,"shards":1,"log_level":"error","dedup_window_ms":%d}`, srv.URL, window)))
	if err != nil {
		return err
	}
	defer bus.Close()
	before, err := srv.RSSBytes()
	if err != nil {
		return err
	}
	var req bytes.Buffer
	start := time.Now()
	for n := 0; n < requests; n++ {
		req.Reset()
		req.WriteString(`{"events":[`)
		for i := 0; i < 1000; i++ {
			if i > 0 {
				req.WriteByte(',')
			}
			fmt.Fprintf(&req, `{"seq":%d}`, n*1000+i)
		}
		req.WriteString(`]}`)
		if _, err := bus.Publish(req.Bytes()); err != nil {
			return err
		}
	}
	took := time.Since(start)
	time.Sleep(3 * time.Second) // what a shorter window lets the server drop
	after, err := srv.RSSBytes()
	if err != nil {
		return err
	}
	fmt.Printf("dedup_window_ms %-8d %d events in %v: server RSS %d MB -> %d MB\n",
		window, requests*1000, took.Round(time.Millisecond), before>>20, after>>20)
	return nil
}
