// Command shards is the shard sweep (make bench-shards, issue 13): netmesh
// through the C ABI (build/bench/sweep) at 1, 16, 64, 256 and 1024 shards on
// one nats-server process (file storage, loopback), N events of 200 bytes.
//
// Per shard count: publishing in 1000-event requests with streams created
// lazily (inside the timing) and with streams already created; the time of
// mesh_init with "create_streams":"init"; a cursor poll of everything (limit
// 1000); empty polls of the idle bus (cursor at the end); the cursor's size;
// and the server's RSS afterwards. Each figure is the median of -runs runs
// (the runs go round the shard counts in turn, fresh prefixes each time; the
// streams are deleted after each). RSS is the first run's, read right after
// its shard count finished, before its streams were deleted: the server
// process keeps its earlier peaks, so read it as "at least this much".
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netmesh/netmesh/bench/internal/harness"
)

// row is one shard count: each figure's runs and median.
type row struct {
	Shards int                  `json:"shards"`
	Runs   map[string][]float64 `json:"runs"`
	Median map[string]float64   `json:"median"`
}

// figure is a column: its key in row, its heading, its unit, and how to get
// it from one sweep result.
type figure struct {
	Key, Title, Unit string
	of               func(r harness.Result, n float64) float64
}

var figures = []figure{
	{"publish_lazy", "publish, lazy stream creation", "events/s", func(r harness.Result, n float64) float64 { return n / r.Extra["publish_lazy_s"] }},
	{"publish", "publish, streams created", "events/s", func(r harness.Result, n float64) float64 { return n / r.Extra["publish_s"] }},
	{"init_create_ms", "mesh_init with create_streams init", "ms", func(r harness.Result, _ float64) float64 { return 1000 * r.Extra["init_create_s"] }},
	{"init_lazy_ms", "mesh_init, lazy (connect only)", "ms", func(r harness.Result, _ float64) float64 { return 1000 * r.Extra["init_lazy_s"] }},
	{"poll", "cursor poll of everything, limit 1000", "events/s", func(r harness.Result, n float64) float64 { return n / r.Extra["poll_s"] }},
	{"empty_calls", "empty poll, idle bus", "calls/s", func(r harness.Result, _ float64) float64 { return r.Extra["empty_calls"] / r.Extra["empty_s"] }},
	{"empty_us", "empty poll, idle bus", "µs/call", func(r harness.Result, _ float64) float64 { return 1e6 * r.Extra["empty_s"] / r.Extra["empty_calls"] }},
	{"cursor_bytes", "cursor size", "bytes", func(r harness.Result, _ float64) float64 { return r.Extra["cursor_bytes"] }},
}

// goal: median[Key] at Shards over median[Key] at 16, against Want; Max means
// the ratio must not exceed Want.
type goal struct {
	What    string  `json:"goal"`
	Key     string  `json:"key"`
	Shards  int     `json:"shards"`
	Want    float64 `json:"want"`
	Max     bool    `json:"at_most"`
	Ratio   float64 `json:"ratio"`
	Verdict string  `json:"verdict"`
}

func main() {
	defServer := os.Getenv("NETMESH_BENCH_SERVER")
	if defServer == "" {
		defServer = "build/tools/nats-server"
	}
	server := flag.String("server", defServer, "nats-server binary (default $NETMESH_BENCH_SERVER, else build/tools/nats-server)")
	bin := flag.String("bin", "build/bench", "directory holding the built sweep program")
	data := flag.String("data", "build/bench/shards-data", "server store and events file (emptied first)")
	out := flag.String("json", "build/bench/shards.json", "results file")
	chart := flag.String("chart", "build/bench/shards-chart.json", "chart spec for bench/chart")
	events := flag.Int("events", 50_000, "events published per shard count (twice: lazy, then created)")
	runs := flag.Int("runs", 3, "runs per figure (the median is reported)")
	list := flag.String("shards", "1,16,64,256,1024", "shard counts; the goals need 16, 256 and 1024")
	empty := flag.Float64("empty-seconds", 1.5, "length of each empty-poll measurement")
	flag.Parse()
	if err := run(*server, *bin, *data, *out, *chart, *list, *events, *runs, *empty); err != nil {
		fmt.Fprintln(os.Stderr, "shards:", err)
		os.Exit(1)
	}
}

func run(server, bin, data, out, chart, list string, events, runs int, empty float64) error {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("bad shard count %q", s)
		}
		counts = append(counts, n)
	}
	for _, p := range []*string{&server, &bin, &data} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	file := filepath.Join(data, "events.ndjson")
	if err := harness.WriteEvents(file, events, 200); err != nil {
		return err
	}
	srv, err := harness.StartServer(server, filepath.Join(data, "server"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("shards: %d events of 200 B per shard count, nats-server %s (%s), file storage, %s, median of %d runs\n",
		events, srv.Version, server, srv.URL, runs)

	rows := make([]*row, len(counts))
	for i, n := range counts {
		rows[i] = &row{Shards: n, Runs: map[string][]float64{}, Median: map[string]float64{}}
	}
	emptyArg := strconv.FormatFloat(empty, 'f', -1, 64)
	for r := 0; r < runs; r++ {
		for _, rw := range rows {
			prefix := fmt.Sprintf("s%d_%d", r, rw.Shards)
			res, err := harness.Run(20*time.Minute, nil, filepath.Join(bin, "sweep"), srv.URL, prefix,
				strconv.Itoa(rw.Shards), file, emptyArg)
			if err != nil {
				return fmt.Errorf("%d shards, run %d: %w", rw.Shards, r+1, err)
			}
			for _, f := range figures {
				rw.Runs[f.Key] = append(rw.Runs[f.Key], f.of(res, float64(res.Count)))
			}
			rss, err := srv.RSSBytes()
			if err != nil {
				return err
			}
			rw.Runs["rss_mb"] = append(rw.Runs["rss_mb"], float64(rss)/(1<<20))
			fmt.Fprintf(os.Stderr, "  run %d  %4d shards  publish %8.0f/s  poll %8.0f/s  empty %8.0f µs  rss %6.0f MB\n",
				r+1, rw.Shards, rw.Runs["publish"][r], rw.Runs["poll"][r], rw.Runs["empty_us"][r], rw.Runs["rss_mb"][r])
			if err := srv.DeleteStreams(prefix + "_"); err != nil {
				return err
			}
		}
	}
	for _, rw := range rows {
		for k, v := range rw.Runs {
			rw.Median[k] = harness.Median(v)
		}
		rw.Median["rss_mb"] = rw.Runs["rss_mb"][0]
	}
	goals := goalsOf(rows)
	printTable(rows, goals)
	results := map[string]any{
		"benchmark": "shards", "time": time.Now().UTC().Format(time.RFC3339),
		"server": server, "server_version": srv.Version, "events": events, "event_bytes": 200,
		"runs": runs, "rows": rows, "goals": goals,
	}
	if err := harness.WriteJSON(out, results); err != nil {
		return err
	}
	if err := harness.WriteJSON(chart, chartSpec(rows, srv.Version, events, runs)); err != nil {
		return err
	}
	fmt.Printf("results: %s; chart spec: %s\n", out, chart)
	return nil
}

func goalsOf(rows []*row) []goal {
	at := map[int]*row{}
	for _, rw := range rows {
		at[rw.Shards] = rw
	}
	gs := []goal{
		{What: "poll at 256 >= 0.8x at 16", Key: "poll", Shards: 256, Want: 0.8},
		{What: "poll at 1024 >= 0.5x at 16", Key: "poll", Shards: 1024, Want: 0.5},
		{What: "empty poll time at 1024 <= 2x at 16", Key: "empty_us", Shards: 1024, Want: 2, Max: true},
		{What: "publish (streams created) at 1024 >= 0.5x at 16", Key: "publish", Shards: 1024, Want: 0.5},
	}
	for i := range gs {
		g := &gs[i]
		base, this := at[16], at[g.Shards]
		switch {
		case base == nil || this == nil || base.Median[g.Key] == 0:
			g.Verdict = "NOT RUN"
			continue
		default:
			g.Ratio = this.Median[g.Key] / base.Median[g.Key]
		}
		if g.Max {
			g.Verdict = harness.Verdict(g.Want, g.Ratio)
		} else {
			g.Verdict = harness.Verdict(g.Ratio, g.Want)
		}
	}
	return gs
}

func printTable(rows []*row, goals []goal) {
	cols := []struct{ key, head, format string }{
		{"publish_lazy", "publish lazy ev/s", "%.0f"},
		{"publish", "publish created ev/s", "%.0f"},
		{"init_create_ms", "init create ms", "%.0f"},
		{"init_lazy_ms", "init lazy ms", "%.0f"},
		{"poll", "poll ev/s", "%.0f"},
		{"empty_calls", "empty calls/s", "%.0f"},
		{"empty_us", "empty µs/call", "%.0f"},
		{"cursor_bytes", "cursor B", "%.0f"},
		{"rss_mb", "server RSS MB", "%.0f"},
	}
	fmt.Printf("\n| shards |")
	for _, c := range cols {
		fmt.Printf(" %s |", c.head)
	}
	fmt.Printf("\n|---:|%s\n", strings.Repeat("---:|", len(cols)))
	for _, rw := range rows {
		fmt.Printf("| %d |", rw.Shards)
		for _, c := range cols {
			fmt.Printf(" "+c.format+" |", rw.Median[c.key])
		}
		fmt.Println()
	}
	fmt.Println()
	for _, g := range goals {
		fmt.Printf("goal %-50s %6.2fx  %s\n", g.What+":", g.Ratio, g.Verdict)
	}
	fmt.Println()
}

func chartSpec(rows []*row, version string, events, runs int) map[string]any {
	panels := []map[string]any{}
	add := func(key, title, unit string) {
		var bars []map[string]any
		for _, rw := range rows {
			label := fmt.Sprintf("%d shards", rw.Shards)
			if rw.Shards == 1 {
				label = "1 shard"
			}
			bars = append(bars, map[string]any{"label": label,
				"value": rw.Median[key], "group": "netmesh"})
		}
		panels = append(panels, map[string]any{"title": title, "unit": unit, "bars": bars})
	}
	for _, f := range figures {
		if f.Key != "empty_calls" && f.Key != "init_lazy_ms" {
			add(f.Key, f.Title, f.Unit)
		}
	}
	add("rss_mb", "server RSS after (first run)", "MB")
	return map[string]any{
		"title": "netmesh shard sweep through the C ABI (make bench-shards)",
		"subtitle": fmt.Sprintf("nats-server %s, file storage, loopback, %dk events of 200 B, median of %d runs",
			version, events/1000, runs),
		"panels": panels,
	}
}
