// Command soak is netmesh's fault soak (`make soak`, not part of `make test`).
//
// Each phase runs publishers (numbered events {"p":P,"n":N}, one batch_id per
// batch, a failed batch retried with the same request) and pollers (each
// following its own cursor with long polls) against real nats-server processes,
// while faults are injected at random moments: the server SIGKILLed and
// restarted on the same port and store dir, or SIGSTOPped for 1–3 s; in the
// cluster phase also a stream leader stepping down. At the end everything is
// read back from the start with a fresh cursor and every acknowledged event must
// be there exactly once; the pollers must have read each one exactly once too.
//
//	soak [-duration 60s] [-seed N] [-cluster=true] [-server build/tools/nats-server]
//
// The last line on stdout is the summary,
//
//	published N, acknowledged N, read back N, lost 0, duplicated 0, faults F
//
// and the exit status is 1 when an event was lost or duplicated, a batch was
// never acknowledged, or a phase could not run; 3 when a phase hung. Progress
// goes to stderr. The seed fixes the fault schedule and the batch sizes (not the
// interleaving of goroutines); rerun with -seed to replay a schedule.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/netmesh/netmesh/core"
)

type options struct {
	duration   time.Duration
	publishers int
	pollers    int
	faults     int
	logLevel   string
	keep       bool
	bin        string
}

// tempDirs holds the phases' dirs while they exist, for an interrupt to remove.
var tempDirs sync.Map

const (
	prefix = "soak"
	shards = 8
)

func main() { os.Exit(run()) }

func run() (status int) {
	var opt options
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock); printed at the start")
	cluster := flag.Bool("cluster", true, "also run the three-node cluster phase")
	flag.DurationVar(&opt.duration, "duration", 60*time.Second, "how long each phase publishes and injects faults")
	flag.StringVar(&opt.bin, "server", "build/tools/nats-server", "nats-server binary")
	flag.IntVar(&opt.publishers, "publishers", 4, "publisher goroutines")
	flag.IntVar(&opt.pollers, "pollers", 2, "poller goroutines")
	flag.IntVar(&opt.faults, "faults", 0, "faults per phase (0: 6 to 10, from the seed)")
	flag.StringVar(&opt.logLevel, "log-level", "error", "netmesh log_level")
	flag.BoolVar(&opt.keep, "keep", false, "keep the store dirs and server logs even when the phase passes")
	flag.Parse()
	if flag.NArg() > 0 || opt.duration < 5*time.Second || opt.publishers < 1 || opt.pollers < 0 || opt.faults < 0 {
		flag.Usage()
		return 2
	}
	if _, err := os.Stat(opt.bin); err != nil {
		fmt.Fprintf(os.Stderr, "soak: nats-server: %v (make tools builds it)\n", err)
		return 2
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}

	defer killAll()
	defer func() {
		if r := recover(); r != nil {
			killAll()
			fmt.Fprintf(os.Stderr, "soak: panic: %v\n%s", r, debug.Stack())
			status = 2
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		killAll()
		tempDirs.Range(func(dir, _ any) bool { return os.RemoveAll(dir.(string)) == nil })
		fmt.Fprintf(os.Stderr, "soak: %v: servers killed, store dirs removed\n", s)
		os.Exit(130)
	}()

	fmt.Fprintf(os.Stderr, "soak: seed %d (rerun: -seed %d), %v per phase, server %s\n", *seed, *seed, opt.duration, opt.bin)
	start := time.Now()
	var results []result
	setups := []func(options, uint64) (*phase, func(bool), error){setupSingle}
	if *cluster {
		setups = append(setups, setupCluster)
	}
	for i, setup := range setups {
		res := runPhase(setup, opt, *seed+uint64(i)*0x9e3779b97f4a7c15)
		results = append(results, res)
		printResult(&res)
	}
	var total result
	for _, r := range results {
		total.published += r.published
		total.acked += r.acked
		total.readBack += r.readBack
		total.lost += r.lost
		total.duplicated += r.duplicated
		total.faults += r.faults
		total.notAcked += r.notAcked
		total.unexpected += r.unexpected
		total.pollerDup += r.pollerDup
		total.pollerMissed += r.pollerMissed
		total.problems = append(total.problems, r.problems...)
	}
	verdict := "PASS"
	if total.failed() {
		verdict = "FAIL"
		status = 1
	}
	fmt.Printf("soak %s: seed %d, %d phase(s), %v\n", verdict, *seed, len(results), time.Since(start).Round(time.Second))
	fmt.Printf("published %d, acknowledged %d, read back %d, lost %d, duplicated %d, faults %d\n",
		total.published, total.acked, total.readBack, total.lost, total.duplicated, total.faults)
	return status
}

// runPhase sets a phase up, runs it under a watchdog and tears it down.
func runPhase(setup func(options, uint64) (*phase, func(bool), error), opt options, seed uint64) result {
	t0 := time.Now()
	ph, teardown, err := setup(opt, seed)
	if err != nil {
		name := "phase"
		if ph != nil {
			name = ph.name
		}
		fmt.Fprintf(os.Stderr, "soak: %s setup: %v\n", name, err)
		if teardown != nil {
			teardown(false)
		}
		return result{name: name, problems: []string{"setup: " + err.Error()}, elapsed: time.Since(t0)}
	}
	limit := opt.duration + batchBound + catchUpBound + readBackBound + time.Minute
	watchdog := time.AfterFunc(limit, func() { hang(ph, limit) })
	res := ph.run()
	watchdog.Stop()
	teardown(!res.failed())
	res.elapsed = time.Since(t0)
	return res
}

// hang reports a phase that did not end in time: the goroutines go to a file,
// the servers are killed, and the program exits 3.
func hang(ph *phase, limit time.Duration) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("netmesh-soak-hang-%d.txt", ph.seed))
	if f, err := os.Create(path); err == nil {
		_ = pprof.Lookup("goroutine").WriteTo(f, 2)
		f.Close()
	}
	killAll()
	fmt.Fprintf(os.Stderr, "soak: %s phase still running after %v (seed %d): a hang; goroutines in %s\n", ph.name, limit, ph.seed, path)
	fmt.Printf("soak HANG: %s phase, seed %d\n", ph.name, ph.seed)
	os.Exit(3)
}

func printResult(r *result) {
	fmt.Printf("%s: published %d, acknowledged %d, read back %d, lost %d, duplicated %d, faults %d %s; %v\n",
		r.name, r.published, r.acked, r.readBack, r.lost, r.duplicated, r.faults, counts(r.faultKinds), r.elapsed.Round(time.Second))
	fmt.Printf("%s: not acknowledged %d, unexpected %d, poller duplicates %d, poller missed %d; publish retries %d %s, dedup hits %d; poll errors %s\n",
		r.name, r.notAcked, r.unexpected, r.pollerDup, r.pollerMissed, r.retries, counts(r.retryCodes), r.dedupHits, counts(r.pollErrCodes))
	for i, p := range r.problems {
		if i == 20 {
			fmt.Printf("%s:   … %d more\n", r.name, len(r.problems)-i)
			break
		}
		fmt.Printf("%s:   %s\n", r.name, p)
	}
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func busConfig(urls []string, opt options, extra string) []byte {
	return fmt.Appendf(nil, `{"url":%q,"prefix":%q,"shards":%d,"request_timeout_ms":3000,"log_level":%q%s}`,
		strings.Join(urls, ","), prefix, shards, opt.logLevel, extra)
}

// waitJetStream waits until the servers answer JetStream API requests (the
// cluster has a meta leader), then opens the bus.
func waitJetStream(urls []string, cfg []byte, bound time.Duration) (*nats.Conn, *core.Bus, error) {
	deadline := time.Now().Add(bound)
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("netmesh-soak-faults"),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.NoCallbacksAfterClientClose())
	if err != nil {
		return nil, nil, err
	}
	var last error
	for time.Now().Before(deadline) {
		msg, err := nc.Request("$JS.API.INFO", nil, 2*time.Second)
		if err == nil && !strings.Contains(string(msg.Data), `"error"`) {
			break
		}
		last = err
		if err == nil {
			last = errors.New(clip(msg.Data))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if time.Now().After(deadline) {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream not ready after %v: %v", bound, last)
	}
	for {
		bus, err := core.Open(cfg)
		if err == nil {
			return nc, bus, nil
		}
		if time.Now().After(deadline) {
			nc.Close()
			return nil, nil, fmt.Errorf("open: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// teardownFunc closes the bus and the connection, kills the servers and
// removes the phase's dir unless the phase failed or -keep was given.
func teardownFunc(name, dir string, opt options, servers []*server, nc **nats.Conn, bus **core.Bus) func(bool) {
	return func(ok bool) {
		if *bus != nil {
			done := make(chan error, 1)
			go func() { done <- (*bus).Close() }()
			select {
			case err := <-done:
				if err != nil {
					fmt.Fprintf(os.Stderr, "soak: %s: close: %v\n", name, err)
				}
			case <-time.After(30 * time.Second):
				fmt.Fprintf(os.Stderr, "soak: %s: Close did not return in 30s\n", name)
			}
		}
		if *nc != nil {
			(*nc).Close()
		}
		for _, s := range servers {
			s.kill()
		}
		tempDirs.Delete(dir)
		if ok && !opt.keep {
			os.RemoveAll(dir)
		} else {
			fmt.Fprintf(os.Stderr, "soak: %s: store dirs and server logs kept in %s\n", name, dir)
		}
	}
}

func setupSingle(opt options, seed uint64) (*phase, func(bool), error) {
	ph := &phase{name: "single", opt: opt, seed: seed}
	dir, err := os.MkdirTemp("", "netmesh-soak-single-")
	if err != nil {
		return ph, nil, err
	}
	tempDirs.Store(dir, true)
	ports, err := freePorts(1)
	if err != nil {
		return ph, nil, err
	}
	srv := &server{name: "nats-server", bin: opt.bin, port: ports[0], logPath: filepath.Join(dir, "server.log"),
		args: []string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(ports[0]), "-sd", filepath.Join(dir, "store")}}
	var nc *nats.Conn
	teardown := teardownFunc(ph.name, dir, opt, []*server{srv}, &nc, &ph.bus)
	if err := srv.start(); err != nil {
		return ph, teardown, err
	}
	if err := srv.waitReady(20 * time.Second); err != nil {
		return ph, teardown, err
	}
	urls := []string{srv.url()}
	nc, ph.bus, err = waitJetStream(urls, busConfig(urls, opt, ""), 30*time.Second)
	if err != nil {
		return ph, teardown, err
	}
	ph.faults = &singleFaults{srv: srv}
	return ph, teardown, nil
}

func setupCluster(opt options, seed uint64) (*phase, func(bool), error) {
	ph := &phase{name: "cluster", opt: opt, seed: seed}
	dir, err := os.MkdirTemp("", "netmesh-soak-cluster-")
	if err != nil {
		return ph, nil, err
	}
	tempDirs.Store(dir, true)
	const n = 3
	all, err := freePorts(2 * n)
	if err != nil {
		return ph, nil, err
	}
	ports, cports := all[:n], all[n:]
	routes := make([]string, n)
	for i, p := range cports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	nodes := make([]*server, n)
	urls := make([]string, n)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i)
		nodes[i] = &server{name: name, bin: opt.bin, port: ports[i], logPath: filepath.Join(dir, name+".log"),
			args: []string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(ports[i]), "-sd", filepath.Join(dir, name),
				"--server_name", name, "--cluster_name", "netmesh-soak",
				"--cluster", routes[i], "--routes", strings.Join(routes, ",")}}
		urls[i] = nodes[i].url()
	}
	var nc *nats.Conn
	teardown := teardownFunc(ph.name, dir, opt, nodes, &nc, &ph.bus)
	for _, s := range nodes {
		if err := s.start(); err != nil {
			return ph, teardown, err
		}
	}
	for _, s := range nodes {
		if err := s.waitReady(20 * time.Second); err != nil {
			return ph, teardown, err
		}
	}
	nc, ph.bus, err = waitJetStream(urls, busConfig(urls, opt, `,"replicas":3`), 60*time.Second)
	if err != nil {
		return ph, teardown, err
	}
	ph.faults = &clusterFaults{nodes: nodes, nc: nc, prefix: prefix, shards: shards}
	return ph, teardown, nil
}
