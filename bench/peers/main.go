// Command peers is the peers benchmark (make bench-peers, issue 11): netmesh
// beside the plain NATS clients on one nats-server process (file storage,
// loopback), in one run.
//
// Publishers send the same N events of 200 bytes: nats.c js_PublishAsync,
// nats.go PublishAsync, nats.js js.publish (1000 in flight), and netmesh
// through the C ABI, Python and Node, on 1 and 16 shards, 1000 events per
// request. Readers: a nats.go direct get per message, a nats.go ordered
// consumer Fetch(1000) loop, netmesh polls (limit 1000) over 1 and 16 shards
// through the C ABI, and an empty poll (cursor at the end) from C and from Go.
// Each reader reads its data twice and times the second read, so that every
// reader finds the server's caches in the same state (warm).
// Each figure is the median of -runs runs; every run uses fresh streams and
// prefixes, and its streams are deleted after it. Each participant is its own
// process and times itself, setup excluded.
//
// It prints a table and the goals of issue 11, writes the results as JSON and
// a chart spec for bench/chart.
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

// measure is one row of the table.
type measure struct {
	Key    string    `json:"key"`
	Label  string    `json:"label"`
	Group  string    `json:"group"` // publish, read or empty
	Unit   string    `json:"unit"`
	Base   string    `json:"base"` // the key its ratio is taken against
	Rates  []float64 `json:"runs"`
	Median float64   `json:"median"`
	Ratio  float64   `json:"ratio"`
	// run measures run r; prefix is fresh for that run.
	run func(prefix string, r int) (harness.Result, error)
}

// goal is one target of issue 11: median(Num)/median(Den) >= Want.
type goal struct {
	What    string  `json:"goal"`
	Num     string  `json:"num"`
	Den     string  `json:"den"`
	Want    float64 `json:"want"`
	Ratio   float64 `json:"ratio"`
	Verdict string  `json:"verdict"`
}

type config struct {
	server, bin, data, out, chart, node, python, lib string
	events, runs, walk                               int
	emptySeconds                                     float64
}

func main() {
	var c config
	defServer := os.Getenv("NETMESH_BENCH_SERVER")
	if defServer == "" {
		defServer = "build/tools/nats-server"
	}
	flag.StringVar(&c.server, "server", defServer, "nats-server binary (default $NETMESH_BENCH_SERVER, else build/tools/nats-server)")
	flag.StringVar(&c.bin, "bin", "build/bench", "directory of the built participants (mesh_peer, natsc_pub, gopeer)")
	flag.StringVar(&c.data, "data", "build/bench/peers-data", "server store and events file (emptied first)")
	flag.StringVar(&c.out, "json", "build/bench/peers.json", "results file")
	flag.StringVar(&c.chart, "chart", "build/bench/peers-chart.json", "chart spec for bench/chart")
	flag.StringVar(&c.node, "node", "node", "node binary")
	flag.StringVar(&c.python, "python", "python3", "python binary")
	flag.StringVar(&c.lib, "lib", "build/libnetmesh.so", "libnetmesh for the bindings")
	flag.IntVar(&c.events, "events", 100_000, "events per publisher and per read")
	flag.IntVar(&c.walk, "walk", 20_000, "events read by the per-message direct get")
	flag.IntVar(&c.runs, "runs", 3, "runs per figure (the median is reported)")
	flag.Float64Var(&c.emptySeconds, "empty-seconds", 1.5, "length of each empty-poll measurement")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	for _, p := range []*string{&c.server, &c.bin, &c.data, &c.lib} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if c.walk > c.events {
		c.walk = c.events
	}
	events := filepath.Join(c.data, "events.ndjson")
	srv, err := harness.StartServer(c.server, filepath.Join(c.data, "server"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := harness.WriteEvents(events, c.events, 200); err != nil {
		return err
	}
	fmt.Printf("peers: %d events of 200 B, nats-server %s (%s), file storage, %s, median of %d runs\n",
		c.events, srv.Version, c.server, srv.URL, c.runs)

	ms := measures(c, srv.URL, events)
	for r := 0; r < c.runs; r++ {
		for _, m := range ms {
			res, err := m.run(fmt.Sprintf("r%d_%s", r, m.Key), r)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", m.Label, r+1, err)
			}
			m.Rates = append(m.Rates, res.Rate())
			fmt.Fprintf(os.Stderr, "  run %d  %-44s %12.0f %s\n", r+1, m.Label, res.Rate(), m.Unit)
		}
		// Later runs start on a server without this run's streams.
		if err := srv.DeleteStreams(fmt.Sprintf("r%d_", r)); err != nil {
			return err
		}
	}
	byKey := map[string]*measure{}
	for _, m := range ms {
		m.Median = harness.Median(m.Rates)
		byKey[m.Key] = m
	}
	for _, m := range ms {
		if b := byKey[m.Base].Median; b > 0 {
			m.Ratio = m.Median / b
		}
	}
	goals := goalsOf(byKey)
	printTable(ms, byKey, goals)
	results := map[string]any{
		"benchmark": "peers", "time": time.Now().UTC().Format(time.RFC3339),
		"server": c.server, "server_version": srv.Version, "events": c.events,
		"event_bytes": 200, "walk_events": c.walk, "runs": c.runs, "measures": ms, "goals": goals,
	}
	if err := harness.WriteJSON(c.out, results); err != nil {
		return err
	}
	if err := harness.WriteJSON(c.chart, chartSpec(c, srv.Version, ms, byKey)); err != nil {
		return err
	}
	fmt.Printf("results: %s; chart spec: %s\n", c.out, c.chart)
	return nil
}

func measures(c config, url, events string) []*measure {
	n := strconv.Itoa(c.events)
	secs := strconv.FormatFloat(c.emptySeconds, 'f', -1, 64)
	bin := func(name string) string { return filepath.Join(c.bin, name) }
	here := "bench/peers"
	py := []string{"PYTHONPATH=" + abs("bindings/python"), "NETMESH_LIBRARY=" + c.lib}
	nodeEnv := []string{"NETMESH_LIBRARY=" + c.lib}
	proc := func(env []string, name string, args ...string) func(string, int) (harness.Result, error) {
		return func(prefix string, _ int) (harness.Result, error) {
			a := make([]string, len(args))
			for i, s := range args {
				a[i] = strings.ReplaceAll(s, "{P}", prefix)
			}
			return harness.Run(10*time.Minute, env, name, a...)
		}
	}
	// Readers read what the C ABI publishers stored in the same run ({R}),
	// twice, and the second read is timed: the server drops a block's cache 10 s
	// after its last use, so without the first read a reader would find the
	// data warm or cold depending on who read it before (the ordered consumer
	// and the 1-shard poll read the streams the direct gets had just read).
	reader := func(env []string, name string, args ...string) func(string, int) (harness.Result, error) {
		return func(_ string, r int) (harness.Result, error) {
			a := make([]string, len(args))
			for i, s := range args {
				a[i] = strings.ReplaceAll(s, "{R}", fmt.Sprintf("r%d", r))
			}
			if _, err := harness.Run(10*time.Minute, env, name, a...); err != nil {
				return harness.Result{}, fmt.Errorf("untimed first read: %w", err)
			}
			return harness.Run(10*time.Minute, env, name, a...)
		}
	}
	pub, read, empty := "publish", "read", "empty"
	return []*measure{
		{Key: "natsc", Label: "nats.c js_PublishAsync", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, bin("natsc_pub"), url, "{P}", events)},
		{Key: "natsc_msgid", Label: "nats.c js_PublishAsync + Nats-Msg-Id", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, bin("natsc_pub"), url, "{P}", events, "msgid")},
		{Key: "natsgo", Label: "nats.go PublishAsync", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, bin("gopeer"), "pub", url, "{P}", events)},
		{Key: "natsjs", Label: "nats.js js.publish, 1000 in flight", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, c.node, abs(here+"/node/natsjs_pub.js"), url, "{P}", events)},
		{Key: "c1", Label: "netmesh C ABI, 1 shard", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, bin("mesh_peer"), "pub", url, "{P}", "1", events)},
		{Key: "c16", Label: "netmesh C ABI, 16 shards", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nil, bin("mesh_peer"), "pub", url, "{P}", "16", events)},
		{Key: "py1", Label: "netmesh Python, 1 shard", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(py, c.python, abs(here+"/py_pub.py"), url, "{P}", "1", events)},
		{Key: "py16", Label: "netmesh Python, 16 shards", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(py, c.python, abs(here+"/py_pub.py"), url, "{P}", "16", events)},
		{Key: "node1", Label: "netmesh Node, 1 shard", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nodeEnv, c.node, abs(here+"/node/mesh_pub.js"), url, "{P}", "1", events)},
		{Key: "node16", Label: "netmesh Node, 16 shards", Group: pub, Unit: "events/s", Base: "natsc",
			run: proc(nodeEnv, c.node, abs(here+"/node/mesh_pub.js"), url, "{P}", "16", events)},

		{Key: "directget", Label: "nats.go direct get per message", Group: read, Unit: "events/s", Base: "ordered",
			run: reader(nil, bin("gopeer"), "directget", url, "{R}_c1_shard_0", strconv.Itoa(c.walk))},
		{Key: "ordered", Label: "nats.go ordered consumer Fetch(1000)", Group: read, Unit: "events/s", Base: "ordered",
			run: reader(nil, bin("gopeer"), "ordered", url, "{R}_c1_shard_0", n)},
		{Key: "poll1", Label: "netmesh C ABI poll, 1 shard", Group: read, Unit: "events/s", Base: "ordered",
			run: reader(nil, bin("mesh_peer"), "poll", url, "{R}_c1", "1", n)},
		{Key: "poll16", Label: "netmesh C ABI poll, 16 shards", Group: read, Unit: "events/s", Base: "ordered",
			run: reader(nil, bin("mesh_peer"), "poll", url, "{R}_c16", "16", n)},

		{Key: "empty_go1", Label: "empty poll, Go core.Bus.Poll, 1 shard", Group: empty, Unit: "calls/s", Base: "empty_go1",
			run: proc(nil, bin("gopeer"), "emptypoll", url, "{P}", "1", secs)},
		{Key: "empty_c1", Label: "empty poll, C mesh_poll, 1 shard", Group: empty, Unit: "calls/s", Base: "empty_go1",
			run: proc(nil, bin("mesh_peer"), "emptypoll", url, "{P}", "1", secs)},
		{Key: "empty_go16", Label: "empty poll, Go core.Bus.Poll, 16 shards", Group: empty, Unit: "calls/s", Base: "empty_go16",
			run: proc(nil, bin("gopeer"), "emptypoll", url, "{P}", "16", secs)},
		{Key: "empty_c16", Label: "empty poll, C mesh_poll, 16 shards", Group: empty, Unit: "calls/s", Base: "empty_go16",
			run: proc(nil, bin("mesh_peer"), "emptypoll", url, "{P}", "16", secs)},
	}
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func goalsOf(m map[string]*measure) []goal {
	gs := []goal{
		{What: "C ABI publish, 1 shard >= 1.2x nats.c", Num: "c1", Den: "natsc", Want: 1.2},
		{What: "C ABI publish, 16 shards >= 1.2x nats.c", Num: "c16", Den: "natsc", Want: 1.2},
		{What: "Python publish, 1 shard >= 1.0x nats.c", Num: "py1", Den: "natsc", Want: 1.0},
		{What: "Python publish, 16 shards >= 1.0x nats.c", Num: "py16", Den: "natsc", Want: 1.0},
		{What: "Node publish, 1 shard >= 6x nats.js", Num: "node1", Den: "natsjs", Want: 6},
		{What: "Node publish, 16 shards >= 6x nats.js", Num: "node16", Den: "natsjs", Want: 6},
		{What: "poll, 16 shards >= 1.0x poll, 1 shard", Num: "poll16", Den: "poll1", Want: 1.0},
		{What: "poll, 16 shards >= 2x ordered consumer", Num: "poll16", Den: "ordered", Want: 2},
		{What: "empty poll from C >= 0.5x from Go, 1 shard", Num: "empty_c1", Den: "empty_go1", Want: 0.5},
		{What: "empty poll from C >= 0.5x from Go, 16 shards", Num: "empty_c16", Den: "empty_go16", Want: 0.5},
	}
	for i := range gs {
		if d := m[gs[i].Den].Median; d > 0 {
			gs[i].Ratio = m[gs[i].Num].Median / d
		}
		gs[i].Verdict = harness.Verdict(gs[i].Ratio, gs[i].Want)
	}
	return gs
}

func printTable(ms []*measure, byKey map[string]*measure, goals []goal) {
	fmt.Printf("\n| %-44s | %12s | %-9s | %-22s | %s |\n", "", "median", "unit", "ratio", "runs")
	fmt.Printf("|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 46), strings.Repeat("-", 14), strings.Repeat("-", 11),
		strings.Repeat("-", 24), strings.Repeat("-", 6))
	for _, m := range ms {
		runs := make([]string, len(m.Rates))
		for i, r := range m.Rates {
			runs[i] = strconv.FormatFloat(r, 'f', 0, 64)
		}
		ratio := fmt.Sprintf("%.2fx %s", m.Ratio, byKey[m.Base].Label)
		if len(ratio) > 22 {
			ratio = fmt.Sprintf("%.2fx %s", m.Ratio, m.Base)
		}
		fmt.Printf("| %-44s | %12.0f | %-9s | %-22s | %s |\n", m.Label, m.Median, m.Unit, ratio, strings.Join(runs, ", "))
	}
	fmt.Println()
	for _, g := range goals {
		fmt.Printf("goal %-48s %6.2fx  %s\n", g.What+":", g.Ratio, g.Verdict)
	}
	fmt.Println()
}

// chartSpec is the input of bench/chart: one panel per group.
func chartSpec(c config, version string, ms []*measure, byKey map[string]*measure) map[string]any {
	titles := map[string]string{
		"publish": fmt.Sprintf("Publish %dk x 200 B", c.events/1000),
		"read":    fmt.Sprintf("Read %dk events (direct get: %dk)", c.events/1000, c.walk/1000),
		"empty":   "Empty poll, cursor at the end",
	}
	var panels []map[string]any
	for _, g := range []string{"publish", "read", "empty"} {
		var bars []map[string]any
		unit := ""
		for _, m := range ms {
			if m.Group != g {
				continue
			}
			unit = m.Unit
			group := "peer"
			if strings.HasPrefix(m.Label, "netmesh") || strings.Contains(m.Label, "mesh_poll") || strings.Contains(m.Label, "core.Bus") {
				group = "netmesh"
			}
			bars = append(bars, map[string]any{"label": m.Label, "value": m.Median, "group": group,
				"note": fmt.Sprintf("%.2fx %s", m.Ratio, byKey[m.Base].Key)})
		}
		panels = append(panels, map[string]any{"title": titles[g], "unit": unit, "bars": bars})
	}
	return map[string]any{
		"title":    "netmesh beside the plain NATS clients (make bench-peers)",
		"subtitle": fmt.Sprintf("nats-server %s, file storage, loopback; median of %d runs; each ratio is to the row whose key follows it (natsc: nats.c, ordered: ordered consumer, empty_go*: Go)", version, c.runs),
		"panels":   panels,
	}
}
