package core

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Consumer groups across real processes: a C, a Python and a Node member
// (tests/group) form one group on a 16-shard bus of nats-server processes,
// while this test publishes, kills, pauses and stops them. make group-test
// builds everything and sets the environment:
//
//	NETMESH_NATS_SERVER      nats-server binary (and NETMESH_NATS_SERVER_OLD or
//	                         NETMESH_SERVER_MATRIX's v2.9.10 for the old server)
//	NETMESH_GROUP_C          tests/group/group_member.c, compiled
//	NETMESH_GROUP_PYTHON     python3, with PYTHONPATH reaching bindings/python
//	NETMESH_GROUP_NODE       node (bindings/node/node_modules installed)
//	NETMESH_LIBRARY          build/libnetmesh.so, for both bindings
//	NETMESH_GROUP_LOGS       optional: keep the member logs in a directory here
//	NETMESH_GROUP_PAUSE_ANYWHERE  optional: also run PauseAnywhere (see there)
//
// The members write a log (format in tests/group/README.md); everything is
// checked from the logs and from a watch of the group's KV records:
//
//   - every published event was processed at least once;
//   - a member processes each shard's events in increasing sequence order;
//   - a member processes only shards its poll said it holds ("assigned");
//   - holding periods (first to last event of one stretch of holding a shard)
//     of different members never overlap in time;
//   - every event was processed while the KV record named that member the
//     shard's owner (by the server's timestamps: the same clock, one machine);
//   - a shard's committed position (its record's, or its owner's commit at the
//     record's epoch) and its epoch never go backwards.

const (
	gpShards    = 16
	gpSessionMs = 2000
	gpLimit     = 200 // MEMBER_LIMIT: the most events one uncommitted batch holds
	gpGroup     = "workers"
)

var gpMembers = []string{"c", "node", "py"} // sorted, as the assignment sorts them

type gpEnv struct {
	nats, natsOld                 string
	cMember, python, node         string
	pyScript, nodeScript, library string
}

func gpSetup(t *testing.T) gpEnv {
	t.Helper()
	var e gpEnv
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{"NETMESH_NATS_SERVER", &e.nats}, {"NETMESH_GROUP_C", &e.cMember}, {"NETMESH_GROUP_PYTHON", &e.python},
		{"NETMESH_GROUP_NODE", &e.node}, {"NETMESH_LIBRARY", &e.library},
	} {
		*v.dst = os.Getenv(v.name)
		if *v.dst == "" {
			t.Skipf("%s not set: TestGroupProcesses runs real member processes; use make group-test", v.name)
		}
	}
	for _, p := range []string{e.nats, e.cMember, e.library} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*string{&e.python, &e.node} {
		path, err := exec.LookPath(*p)
		if err != nil {
			t.Fatal(err)
		}
		*p = path
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e.pyScript = filepath.Join(root, "tests", "group", "member.py")
	e.nodeScript = filepath.Join(root, "tests", "group", "member.js")
	// The oldest supported server (Debian 12's) from the matrix, else 2.9.25.
	for _, pair := range strings.Split(os.Getenv("NETMESH_SERVER_MATRIX"), ",") {
		if v, bin, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && v == "v2.9.10" {
			e.natsOld = bin
		}
	}
	if e.natsOld == "" {
		e.natsOld = os.Getenv("NETMESH_NATS_SERVER_OLD")
	}
	return e
}

func TestGroupProcesses(t *testing.T) {
	env := gpSetup(t)
	start := time.Now()
	t.Run("Main", func(t *testing.T) {
		gpMainScenario(t, gpNewRun(t, env, gpSingleServer(t, env.nats), 1), 50000)
	})
	t.Run("Kill", func(t *testing.T) { gpKillScenario(t, gpNewRun(t, env, gpSingleServer(t, env.nats), 1)) })
	t.Run("Pause", func(t *testing.T) { gpPauseScenario(t, gpNewRun(t, env, gpSingleServer(t, env.nats), 1)) })
	t.Run("Graceful", func(t *testing.T) { gpGracefulScenario(t, gpNewRun(t, env, gpSingleServer(t, env.nats), 1)) })
	t.Run("PauseAnywhere", func(t *testing.T) {
		if os.Getenv("NETMESH_GROUP_PAUSE_ANYWHERE") == "" {
			t.Skip("set NETMESH_GROUP_PAUSE_ANYWHERE=1: six 6-second pauses at arbitrary points (about 40 s); kept out of make test for time")
		}
		gpPauseAnywhereScenario(t, gpNewRun(t, env, gpSingleServer(t, env.nats), 1))
	})
	t.Run("Cluster", func(t *testing.T) {
		gpMainScenario(t, gpNewRun(t, env, gpCluster(t, env.nats), 3), 50000)
	})
	t.Run("OldServer", func(t *testing.T) {
		if env.natsOld == "" {
			t.Skip("no 2.9 server: set NETMESH_SERVER_MATRIX (with v2.9.10) or NETMESH_NATS_SERVER_OLD")
		}
		gpMainScenario(t, gpNewRun(t, env, gpSingleServer(t, env.natsOld), 1), 50000)
	})
	t.Logf("all scenarios: %v", time.Since(start).Round(time.Millisecond))
}

// --- servers ---------------------------------------------------------------

func gpSingleServer(t *testing.T, bin string) string {
	return startNatsProc(t, bin, t.TempDir(), freePort(t)).url()
}

// gpCluster starts three clustered nats-server processes (as in
// cluster_test.go) and returns their URLs as one seed list.
func gpCluster(t *testing.T, bin string) string {
	const n = 3
	all := freePorts(t, 2*n)
	routes := make([]string, n)
	for i, p := range all[n:] {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	urls := make([]string, n)
	for i := range n {
		p := &natsProc{bin: bin, dir: t.TempDir(), port: all[i]}
		p.cmd = exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(p.port), "-sd", p.dir,
			"--server_name", fmt.Sprintf("n%d", i), "--cluster_name", "netmesh-group",
			"--cluster", routes[i], "--routes", strings.Join(routes, ","))
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		urls[i] = p.url()
	}
	return strings.Join(urls, ",")
}

// --- one run: a server, a publisher, a KV watch, the members ---------------

type gpKey struct {
	shard int
	seq   uint64
}

type gpRun struct {
	env      gpEnv
	dir, url string
	replicas int
	pub      *Bus
	kv       *gpKVWatch
	members  map[string]*gpMember

	mu       sync.Mutex
	expected map[gpKey]bool

	// Set by scenarios that SIGSTOP members at arbitrary points: when each
	// member got SIGCONT, and that holding periods cannot be told apart (a
	// member that never saw its shards go cannot log that it lost them).
	resumed map[string][]int64
	noRuns  bool
}

// gpNewRun opens the publishing bus (waiting for a cluster to elect its
// leaders), creates the group bucket through core itself (a poll of another
// group) and starts watching the group's keys.
func gpNewRun(t *testing.T, env gpEnv, url string, replicas int) *gpRun {
	r := &gpRun{env: env, dir: gpDir(t), url: url, replicas: replicas, members: map[string]*gpMember{},
		expected: map[gpKey]bool{}}
	cfg := urlConfig(url, fmt.Sprintf(`,"shards":%d,"replicas":%d,"request_timeout_ms":20000`, gpShards, replicas))
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := tryOpen(t, cfg)
		if err == nil {
			if _, err = b.Poll([]byte(`{"group":"probe","limit":1,"timeout_ms":3000}`)); err == nil {
				r.pub = b
				break
			}
			b.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("bus on %s not ready: %v", url, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.kv = gpWatchKV(t, url, "netmesh_groups", gpGroup)
	if out, err := r.pub.Stats(); err == nil {
		var st statsJSON
		_ = json.Unmarshal(out, &st)
		t.Logf("nats-server %s at %s", st.Server.Version, url)
	}
	return r
}

// gpDir is where a run keeps its member logs: a temporary directory, or with
// NETMESH_GROUP_LOGS set a directory under it that stays for a look afterwards.
func gpDir(t *testing.T) string {
	keep := os.Getenv("NETMESH_GROUP_LOGS")
	if keep == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(keep, strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("member logs in %s", dir)
	return dir
}

// publish stores events {"n":from}..{"n":from+n-1} in batches of batch, gap
// apart, recording where each was stored. Transient failures are retried with
// the same batch_id, so each event is stored once.
func (r *gpRun) publish(from, n, batch int, gap time.Duration) error {
	for i := from; i < from+n; i += batch {
		evs := numberedEvents(i, min(batch, from+n-i))
		req := []byte(`{"acks":true,"batch_id":"p` + strconv.Itoa(i) + `","timeout_ms":20000,"events":` + eventsJSON(evs) + `}`)
		var out []byte
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if out, err = r.pub.Publish(req); CodeOf(err) != CodeTransient {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("publish from %d: %w", i, err)
		}
		var resp pubResp
		if err := decodeStrictErr(out, &resp); err != nil {
			return err
		}
		if len(resp.Acks) != len(evs) {
			return fmt.Errorf("publish from %d: %d acks for %d events", i, len(resp.Acks), len(evs))
		}
		r.mu.Lock()
		for _, a := range resp.Acks {
			seq, _ := strconv.ParseUint(a.Seq, 10, 64)
			r.expected[gpKey{a.Shard, seq}] = true
		}
		r.mu.Unlock()
		time.Sleep(gap)
	}
	return nil
}

// publishAsync runs publish on a goroutine; the channel gives its error.
func (r *gpRun) publishAsync(from, n, batch int, gap time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.publish(from, n, batch, gap) }()
	return done
}

func (r *gpRun) expectedKeys() map[gpKey]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.expected)
}

// --- member processes ------------------------------------------------------

type gpMember struct {
	id, log, errLog string
	cmd             *exec.Cmd
	done            chan struct{}
	err             error
	ended           bool // the test killed or stopped it on purpose
}

func (r *gpRun) stopFile() string { return filepath.Join(r.dir, "stop") }

// start launches the member id ("c", "py" or "node").
func (r *gpRun) start(t *testing.T, id string) *gpMember {
	m := &gpMember{id: id, log: filepath.Join(r.dir, id+".log"), errLog: filepath.Join(r.dir, id+".err"),
		done: make(chan struct{})}
	var argv []string
	switch id {
	case "c":
		argv = []string{r.env.cMember}
	case "py":
		argv = []string{r.env.python, r.env.pyScript}
	case "node":
		argv = []string{r.env.node, r.env.nodeScript}
	}
	argv = append(argv, r.url, gpGroup, id, m.log, r.stopFile())
	m.cmd = exec.Command(argv[0], argv[1:]...)
	m.cmd.Env = append(os.Environ(), "NETMESH_LIBRARY="+r.env.library, "MEMBER_SHARDS="+strconv.Itoa(gpShards),
		"MEMBER_REPLICAS="+strconv.Itoa(r.replicas), "MEMBER_SESSION_MS="+strconv.Itoa(gpSessionMs),
		"MEMBER_LIMIT="+strconv.Itoa(gpLimit), "MEMBER_WAIT_MS=500")
	f, err := os.Create(m.errLog)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stdout, m.cmd.Stderr = f, f
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = m.cmd.Wait()
		f.Close()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			if data, _ := os.ReadFile(m.errLog); len(data) > 0 {
				t.Logf("member %s stderr:\n%s", id, tail(string(data), 3000))
			}
		}
	})
	r.members[id] = m
	return m
}

func (r *gpRun) startAll(t *testing.T) {
	for _, id := range gpMembers {
		r.start(t, id)
	}
}

func (m *gpMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// waitExit waits for the member to end and fails unless it exited with 0.
func (m *gpMember) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(within):
		t.Fatalf("member %s still running %v after it was told to stop", m.id, within)
	}
	if m.err != nil {
		t.Fatalf("member %s: %v", m.id, m.err)
	}
}

// procState is the state letter of /proc/<pid>/stat ('T' when stopped).
func procState(pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

// waitPaused has the member stop itself (SIGSTOP) after logging its next
// batch with events and before committing it, and waits until it is stopped.
func (r *gpRun) waitPaused(t *testing.T, m *gpMember) {
	t.Helper()
	if err := os.WriteFile(m.log+".pause", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for procState(m.cmd.Process.Pid) != 'T' {
		if time.Now().After(deadline) || m.exited() {
			t.Fatalf("member %s did not stop itself", m.id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stopAll asks every running member to stop (the stop file) and waits.
func (r *gpRun) stopAll(t *testing.T) {
	if err := os.WriteFile(r.stopFile(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range gpMembers {
		if m := r.members[id]; m != nil && !m.ended {
			m.waitExit(t, 20*time.Second)
		}
	}
}

// --- member logs -----------------------------------------------------------

type gpEvent struct {
	shard int
	seq   uint64
	at    int64
	run   int // which stretch of holding the shard (counts from 1)
}

type gpAssign struct {
	at  int64
	set []int
}

type gpCommit struct {
	at                 int64
	committed, revoked []int
}

type gpLog struct {
	id       string
	events   []gpEvent
	assigned []gpAssign
	commits  []gpCommit
	meta     map[string]int64 // start, pause, stop, exit: the first of each
	problems []string         // events of shards the member did not hold
}

func gpInts(s string) []int {
	if s == "-" || s == "" {
		return []int{}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// gpParseLog reads a member's log. A last line without its newline (being
// written) is left for the next read.
func gpParseLog(id, path string) (*gpLog, error) {
	l := &gpLog{id: id, meta: map[string]int64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	held := map[int]bool{}
	runs := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		bad := fmt.Errorf("%s line %d: %q", path, line, sc.Text())
		if len(f) >= 4 && f[0] == "#" {
			if f[2] != id {
				return nil, bad
			}
			at, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, bad
			}
			switch {
			case f[1] == "assigned" && len(f) == 5:
				set := gpInts(f[4])
				if set == nil {
					return nil, bad
				}
				now := map[int]bool{}
				for _, k := range set {
					now[k] = true
					if !held[k] {
						runs[k]++
					}
				}
				held = now
				l.assigned = append(l.assigned, gpAssign{at, set})
			case f[1] == "commit" && len(f) == 6:
				c, rv := gpInts(f[4]), gpInts(f[5])
				if c == nil || rv == nil {
					return nil, bad
				}
				l.commits = append(l.commits, gpCommit{at, c, rv})
				for _, k := range rv {
					delete(held, k) // revoked: this stretch of holding k is over
				}
			case len(f) == 4 && (f[1] == "start" || f[1] == "pause" || f[1] == "stop" || f[1] == "exit"):
				if _, ok := l.meta[f[1]]; !ok {
					l.meta[f[1]] = at
				}
			default:
				return nil, bad
			}
			continue
		}
		if len(f) != 4 || f[0] != id {
			return nil, bad
		}
		shard, err1 := strconv.Atoi(f[1])
		seq, err2 := strconv.ParseUint(f[2], 10, 64)
		at, err3 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, bad
		}
		if !held[shard] && len(l.problems) < 10 {
			l.problems = append(l.problems, fmt.Sprintf("member %s processed shard %d seq %d at %s, outside its assigned shards",
				id, shard, seq, gpTime(at)))
		}
		l.events = append(l.events, gpEvent{shard: shard, seq: seq, at: at, run: runs[shard]})
	}
	return l, sc.Err()
}

func (r *gpRun) logs(t *testing.T) map[string]*gpLog {
	t.Helper()
	out := map[string]*gpLog{}
	for id, m := range r.members {
		l, err := gpParseLog(id, m.log)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = l
	}
	return out
}

// inFlight reports whether an event logged at at belongs to a batch the
// member's poll returned before a SIGSTOP and that it logged after SIGCONT:
// logged after a resume and before the first commit after it, and that commit
// stored nothing (the batch was read under the lease that ran out). Such a
// batch is processed late by nature; the commit is what must refuse it.
func (l *gpLog) inFlight(at int64, resumed []int64) bool {
	for _, r := range resumed {
		if at < r {
			continue
		}
		for _, c := range l.commits {
			if c.at >= r {
				if at <= c.at && len(c.committed) == 0 {
					return true
				}
				break
			}
		}
	}
	return false
}

// lastAssigned is the member's latest "assigned" at or before at (0: latest).
func (l *gpLog) lastAssigned(at int64) ([]int, bool) {
	var set []int
	found := false
	for _, a := range l.assigned {
		if at != 0 && a.at > at {
			break
		}
		set, found = a.set, true
	}
	return set, found
}

// waitAll waits until every published event is in some member's log.
func (r *gpRun) waitAll(t *testing.T, within time.Duration) map[string]*gpLog {
	t.Helper()
	want := r.expectedKeys()
	deadline := time.Now().Add(within)
	for {
		logs := r.logs(t)
		missing := 0
		seen := map[gpKey]bool{}
		for _, l := range logs {
			for _, e := range l.events {
				seen[gpKey{e.shard, e.seq}] = true
			}
		}
		var example gpKey
		for k := range want {
			if !seen[k] {
				missing++
				example = k
			}
		}
		if missing == 0 {
			return logs
		}
		for id, m := range r.members {
			if m.exited() && !m.ended && !r.stopping() {
				t.Fatalf("member %s exited early: %v", id, m.err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never processed (e.g. shard %d seq %d)", missing, len(want), example.shard, example.seq)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *gpRun) stopping() bool {
	_, err := os.Stat(r.stopFile())
	return err == nil
}

// waitBalanced waits until the running members' latest assignments split the
// shards evenly (5 or 6 each of 16 for three), disjoint and complete.
func (r *gpRun) waitBalanced(t *testing.T, ids []string, within time.Duration) map[string][]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		logs := r.logs(t)
		sets := map[string][]int{}
		owner := map[int]string{}
		ok := true
		lo, hi := gpShards/len(ids), (gpShards+len(ids)-1)/len(ids)
		for _, id := range ids {
			set, _ := logs[id].lastAssigned(0)
			sets[id] = set
			if len(set) < lo || len(set) > hi {
				ok = false
			}
			for _, k := range set {
				if owner[k] != "" {
					ok = false
				}
				owner[k] = id
			}
		}
		if ok && len(owner) == gpShards {
			return sets
		}
		if time.Now().After(deadline) {
			t.Fatalf("assignment not balanced after %v: %v", within, sets)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --- the group's KV state, as it changes ------------------------------------

// gpKV is one version of a shard's record, with the shard's committed
// position as of that moment: the record's own, or its owner's later commit
// at the record's epoch (the rule of group.committed).
type gpKV struct {
	rev       uint64
	at        int64 // server time of the write
	owner     string
	epoch     uint64
	seq       uint64 // the record's position (carried over at a handover)
	committed uint64 // the group's committed position after this write
}

type gpPos struct{ seq, epoch uint64 }

// gpKVWatch follows every key of the group: shard records (g.G.s.K) and
// members' positions (g.G.p.M), in the order the server stored them, and
// keeps each shard's history and every backward move of a committed position.
type gpKVWatch struct {
	mu        sync.Mutex
	records   map[int][]gpKV
	cur       map[int]gpKV
	pos       map[string]map[int]gpPos
	committed map[int]uint64
	errs      []string
}

func gpWatchKV(t *testing.T, url, bucket, group string) *gpKVWatch {
	js := rawJSAt(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatalf("bucket %s: %v", bucket, err)
	}
	w, err := kv.Watch(context.Background(), "g."+group+".>")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	g := &gpKVWatch{records: map[int][]gpKV{}, cur: map[int]gpKV{}, pos: map[string]map[int]gpPos{},
		committed: map[int]uint64{}}
	prefix := "g." + group + "."
	go func() {
		for e := range w.Updates() {
			if e != nil {
				kind, id, _ := strings.Cut(strings.TrimPrefix(e.Key(), prefix), ".")
				g.apply(kind, id, e)
			}
		}
	}()
	return g
}

func (g *gpKVWatch) apply(kind, id string, e jetstream.KeyValueEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	put := e.Operation() == jetstream.KeyValuePut
	bad := func(err error) {
		g.errs = append(g.errs, fmt.Sprintf("%s rev %d %q: %v", e.Key(), e.Revision(), e.Value(), err))
	}
	var touched []int
	switch kind {
	case "s":
		k, err := strconv.Atoi(id)
		rec := groupShard{}
		if err == nil && put {
			err = json.Unmarshal(e.Value(), &rec)
		}
		seq := uint64(0)
		if err == nil && rec.Seq != "" {
			seq, err = strconv.ParseUint(rec.Seq, 10, 64)
		}
		if err != nil {
			bad(err)
			return
		}
		g.cur[k] = gpKV{rev: e.Revision(), at: e.Created().UnixNano(), owner: rec.Owner, epoch: rec.Epoch, seq: seq}
		touched = []int{k}
	case "p":
		ps := map[int]gpPos{}
		if put {
			var stored map[string][2]string
			if err := json.Unmarshal(e.Value(), &stored); err != nil {
				bad(err)
				return
			}
			for key, v := range stored {
				k, err1 := strconv.Atoi(key)
				seq, err2 := strconv.ParseUint(v[0], 10, 64)
				epoch, err3 := strconv.ParseUint(v[1], 10, 64)
				if err := errors.Join(err1, err2, err3); err != nil {
					bad(err)
					return
				}
				ps[k] = gpPos{seq, epoch}
			}
		}
		g.pos[id] = ps
		for k, rec := range g.cur {
			if rec.owner == id {
				touched = append(touched, k)
			}
		}
	default:
		return // heartbeats
	}
	for _, k := range touched {
		rec := g.cur[k]
		c := rec.seq
		if p, ok := g.pos[rec.owner][k]; ok && rec.owner != "" && p.epoch == rec.epoch && p.seq > c {
			c = p.seq
		}
		if c < g.committed[k] {
			g.errs = append(g.errs, fmt.Sprintf("shard %d: committed position moved backwards from %d to %d at %s (%s rev %d; record owner %q epoch %d seq %d)",
				k, g.committed[k], c, gpTime(e.Created().UnixNano()), e.Key(), e.Revision(), rec.owner, rec.epoch, rec.seq))
		}
		g.committed[k] = c
		if kind == "s" {
			rec.committed = c
			g.records[k] = append(g.records[k], rec)
		}
	}
}

func (g *gpKVWatch) snapshot() map[int][]gpKV {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[int][]gpKV{}
	for k, v := range g.records {
		out[k] = slices.Clone(v)
	}
	return out
}

// check fails if a committed position or an epoch went backwards, or a shard
// changed owner without a new epoch.
func (g *gpKVWatch) check(t *testing.T) map[int][]gpKV {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last writes reach the watch
	g.mu.Lock()
	errs := slices.Clone(g.errs)
	g.mu.Unlock()
	if len(errs) > 0 {
		t.Errorf("group state:\n  %s", strings.Join(errs, "\n  "))
	}
	recs := g.snapshot()
	for k, list := range recs {
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			switch {
			case b.rev <= a.rev:
				t.Errorf("shard %d: revision %d after %d", k, b.rev, a.rev)
			case b.epoch < a.epoch:
				t.Errorf("shard %d: epoch %d after %d", k, b.epoch, a.epoch)
			case b.owner != "" && b.owner != a.owner && b.epoch == a.epoch:
				t.Errorf("shard %d: taken by %q from %q without a new epoch (%d)", k, b.owner, a.owner, b.epoch)
			case b.owner != a.owner && b.seq < a.committed:
				t.Errorf("shard %d: handed from %q to %q at position %d, behind the committed %d", k, a.owner, b.owner, b.seq, a.committed)
			}
		}
	}
	return recs
}

// gpRecordsAround describes the shard's records written shortly before and
// after at, for a report.
func gpRecordsAround(list []gpKV, at int64) string {
	var parts []string
	for _, r := range list {
		if r.at > at-int64(2*time.Second) && r.at < at+int64(time.Second) {
			parts = append(parts, fmt.Sprintf("rev %d %s owner %q epoch %d seq %d", r.rev, gpTime(r.at), r.owner, r.epoch, r.seq))
		}
	}
	return strings.Join(parts, "; ")
}

// gpClockSlack is how far a member's clock reading may be behind the server's
// timestamps: the members read the time in three languages (Node from its
// monotonic clock plus the process's time origin), a few milliseconds apart.
const gpClockSlack = int64(20 * time.Millisecond)

// ownerAt is the owner of shard k in the records at time at (server clock).
func gpOwnerAt(list []gpKV, at int64) string {
	owner := ""
	for _, r := range list {
		if r.at > at {
			break
		}
		owner = r.owner
	}
	return owner
}

// --- checks ----------------------------------------------------------------

type gpResult struct {
	processed, distinct int
	dups                map[gpKey][]string // every key processed more than once: by whom
}

func gpTime(ns int64) string { return time.Unix(0, ns).Format("15:04:05.000000") }

// check runs the checks every scenario shares and returns the duplicates.
func (r *gpRun) check(t *testing.T, logs map[string]*gpLog) gpResult {
	t.Helper()
	recs := r.kv.check(t)
	want := r.expectedKeys()
	res := gpResult{dups: map[gpKey][]string{}}
	by := map[gpKey][]string{}
	type period struct {
		member      string
		run         int
		first, last int64
	}
	periods := map[int][]*period{}
	// Events processed while the record named another owner, as runs.
	type zombie struct {
		member string
		shard  int
		owner  string
	}
	type zombieSpan struct {
		first, last gpEvent
		n           int
	}
	var zombieOrder []zombie
	zombies := map[zombie]*zombieSpan{}
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for _, id := range gpMembers {
		l := logs[id]
		if l == nil {
			continue
		}
		problems = append(problems, l.problems...)
		last := map[int]uint64{}
		disorder := 0
		cur := map[[2]int]*period{}
		for _, e := range l.events {
			key := gpKey{e.shard, e.seq}
			by[key] = append(by[key], id)
			res.processed++
			if !want[key] {
				report("member %s processed shard %d seq %d, which was never published", id, e.shard, e.seq)
			}
			if e.seq <= last[e.shard] {
				if disorder++; disorder <= 3 {
					report("member %s processed shard %d seq %d after seq %d", id, e.shard, e.seq, last[e.shard])
				}
			}
			last[e.shard] = e.seq
			p := cur[[2]int{e.shard, e.run}]
			if p == nil {
				p = &period{member: id, run: e.run, first: e.at}
				cur[[2]int{e.shard, e.run}] = p
				periods[e.shard] = append(periods[e.shard], p)
			}
			p.last = e.at
			if owner := gpOwnerAt(recs[e.shard], e.at); owner != id && gpOwnerAt(recs[e.shard], e.at-gpClockSlack) != id &&
				!l.inFlight(e.at, r.resumed[id]) {
				z := zombie{id, e.shard, owner}
				span := zombies[z]
				if span == nil {
					span = &zombieSpan{first: e}
					zombies[z] = span
					zombieOrder = append(zombieOrder, z)
				}
				span.last, span.n = e, span.n+1
			}
		}
	}
	for _, z := range zombieOrder {
		span := zombies[z]
		report("member %s processed %d events of shard %d (seq %d..%d, %s..%s) while the group record named %q the owner; records: %s",
			z.member, span.n, z.shard, span.first.seq, span.last.seq, gpTime(span.first.at), gpTime(span.last.at), z.owner,
			gpRecordsAround(recs[z.shard], span.first.at))
	}
	missing := 0
	for k := range want {
		if len(by[k]) == 0 {
			if missing++; missing <= 3 {
				report("shard %d seq %d was never processed", k.shard, k.seq)
			}
		}
	}
	if missing > 3 {
		report("... %d events never processed in all", missing)
	}
	for key, who := range by {
		if len(who) > 1 {
			res.dups[key] = who
		}
	}
	res.distinct = len(by)
	for k, ps := range periods {
		if r.noRuns {
			break
		}
		for i, a := range ps {
			for _, b := range ps[i+1:] {
				if a.member != b.member && a.first <= b.last && b.first <= a.last {
					report("shard %d: %s held it %s..%s (run %d) while %s held it %s..%s (run %d)", k,
						a.member, gpTime(a.first), gpTime(a.last), a.run, b.member, gpTime(b.first), gpTime(b.last), b.run)
				}
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	counts := []string{}
	for _, id := range gpMembers {
		if l := logs[id]; l != nil {
			counts = append(counts, fmt.Sprintf("%s %d", id, len(l.events)))
		}
	}
	t.Logf("%d events published; processed %d times (%s), %d distinct, %d duplicated",
		len(want), res.processed, strings.Join(counts, ", "), res.distinct, len(res.dups))
	return res
}

// takeover is when each shard of set first appeared in another member's
// assignment after from (0 if never).
func gpTakeover(logs map[string]*gpLog, from string, set []int, after int64) map[int]int64 {
	out := map[int]int64{}
	for id, l := range logs {
		if id == from {
			continue
		}
		for _, a := range l.assigned {
			if a.at <= after {
				continue
			}
			for _, k := range a.set {
				if slices.Contains(set, k) && (out[k] == 0 || a.at < out[k]) {
					out[k] = a.at
				}
			}
		}
	}
	return out
}

// firstRead is when another member than from first processed shard k after.
func gpFirstRead(logs map[string]*gpLog, from string, k int, after int64) int64 {
	first := int64(0)
	for id, l := range logs {
		if id == from {
			continue
		}
		for _, e := range l.events {
			if e.shard == k && e.at > after && (first == 0 || e.at < first) {
				first = e.at
			}
		}
	}
	return first
}

// --- scenarios -------------------------------------------------------------

// Three members, n events published while they join; all are processed, the
// shards end 6/5/5, and every member stops cleanly.
func gpMainScenario(t *testing.T, r *gpRun, n int) {
	start := time.Now()
	r.startAll(t)
	if err := r.publish(0, n, 500, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	published := time.Since(start)
	r.waitAll(t, 90*time.Second)
	processed := time.Since(start)
	sets := r.waitBalanced(t, gpMembers, 15*time.Second)
	r.stopAll(t)
	logs := r.logs(t)
	r.check(t, logs)
	for _, id := range gpMembers {
		if _, ok := logs[id].meta["exit"]; !ok {
			t.Errorf("member %s logged no exit", id)
		}
	}
	t.Logf("published %d events in %v, all processed after %v; shards held at the end: %v; whole scenario %v",
		n, published.Round(time.Millisecond), processed.Round(time.Millisecond), sets, time.Since(start).Round(time.Millisecond))
}

// SIGKILL one member midway: the others take its shards once its session has
// run out, nothing is lost, and only its uncommitted batch is read again.
func gpKillScenario(t *testing.T, r *gpRun) {
	const victim = "py"
	start := time.Now()
	r.startAll(t)
	pub := r.publishAsync(0, 24000, 500, 100*time.Millisecond)
	r.waitBalanced(t, gpMembers, 15*time.Second)
	time.Sleep(1500 * time.Millisecond)
	// The kill lands on a batch processed and not committed: the member stops
	// itself there (LOG.pause) and is killed while stopped.
	m := r.members[victim]
	m.ended = true
	r.waitPaused(t, m)
	killed := time.Now().UnixNano()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.done
	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	logs := r.waitAll(t, 60*time.Second)
	held, _ := logs[victim].lastAssigned(killed)
	r.stopAll(t)
	logs = r.logs(t)
	res := r.check(t, logs)

	limit := time.Duration(gpSessionMs)*time.Millisecond + 2*time.Second
	taken := gpTakeover(logs, victim, held, killed)
	var worst time.Duration
	for _, k := range held {
		at := taken[k]
		if at == 0 {
			t.Errorf("shard %d of the killed member was never taken over", k)
			continue
		}
		d := time.Duration(at - killed)
		worst = max(worst, d)
		if d > limit {
			t.Errorf("shard %d taken over %v after the kill, want within %v", k, d, limit)
		}
		if read := gpFirstRead(logs, victim, k, killed); read == 0 || time.Duration(read-killed) > limit {
			t.Errorf("shard %d: first read by another member %v after the kill, want within %v", k, time.Duration(read-killed), limit)
		}
	}
	// Read twice: exactly the batch the victim processed and never committed
	// (the events it logged after its last commit), each by one new owner,
	// which starts from the committed position.
	uncommitted := r.checkReread(t, logs[victim], res, killed)
	t.Logf("killed %s holding %v with a batch of %d events not committed; taken over within %v (limit %v); %d events read twice; scenario %v",
		victim, held, len(uncommitted), worst.Round(time.Millisecond), limit, len(res.dups), time.Since(start).Round(time.Millisecond))
}

// checkReread checks what was read twice when the victim lost its shards at
// lost with one batch logged and not committed: exactly that batch's events,
// each read again by one new owner, which starts from the committed position
// the shard's record carried over. It returns the batch.
func (r *gpRun) checkReread(t *testing.T, l *gpLog, res gpResult, lost int64) map[gpKey]bool {
	t.Helper()
	lastCommit := int64(0)
	for _, c := range l.commits {
		if c.at < lost {
			lastCommit = c.at
		}
	}
	batch := map[gpKey]bool{}
	for _, e := range l.events {
		if e.at > lastCommit && e.at < lost {
			batch[gpKey{e.shard, e.seq}] = true
		}
	}
	recs := r.kv.snapshot()
	for key, who := range res.dups {
		switch {
		case len(who) != 2 || !slices.Contains(who, l.id):
			t.Errorf("shard %d seq %d processed by %v: only %s's uncommitted batch may be read twice", key.shard, key.seq, who, l.id)
		case !batch[key]:
			t.Errorf("shard %d seq %d read again though %s had committed it", key.shard, key.seq, l.id)
		case key.seq <= gpCommittedAtTakeover(recs[key.shard], l.id, lost):
			t.Errorf("shard %d seq %d read again below the position the new owner took over", key.shard, key.seq)
		}
	}
	for key := range batch {
		if len(res.dups[key]) == 0 {
			t.Errorf("shard %d seq %d: processed by %s and not committed, but not read again", key.shard, key.seq, l.id)
		}
	}
	if len(batch) == 0 || len(batch) > gpLimit {
		t.Errorf("%s's uncommitted batch has %d events, want 1..%d", l.id, len(batch), gpLimit)
	}
	return batch
}

// gpCommittedAtTakeover is the position the record that took the shard from
// the member (after at) carried over: where the new owner began.
func gpCommittedAtTakeover(list []gpKV, from string, at int64) uint64 {
	for i := 1; i < len(list); i++ {
		if list[i].at > at && list[i-1].owner == from && list[i].owner != from {
			return list[i].seq
		}
	}
	return 0
}

// A member stopped (SIGSTOP) between logging a batch and committing it, for
// longer than its session: the others take its shards, its late commit is
// revoked, no position moves backwards, and it rejoins after SIGCONT.
func gpPauseScenario(t *testing.T, r *gpRun) {
	const victim = "node"
	start := time.Now()
	r.startAll(t)
	pub := r.publishAsync(0, 24000, 500, 100*time.Millisecond)
	r.waitBalanced(t, gpMembers, 15*time.Second)
	time.Sleep(500 * time.Millisecond)
	m := r.members[victim]
	r.waitPaused(t, m)
	paused := r.logs(t)[victim].meta["pause"]
	time.Sleep(time.Duration(gpSessionMs)*time.Millisecond + 1500*time.Millisecond)
	resumed := time.Now().UnixNano()
	if err := m.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	r.waitAll(t, 60*time.Second)
	r.waitBalanced(t, gpMembers, 15*time.Second) // the paused member is back
	r.stopAll(t)
	logs := r.logs(t)
	res := r.check(t, logs)

	held, _ := logs[victim].lastAssigned(paused)
	limit := time.Duration(gpSessionMs)*time.Millisecond + 2*time.Second
	taken := gpTakeover(logs, victim, held, paused)
	var worst time.Duration
	for _, k := range held {
		d := time.Duration(taken[k] - paused)
		worst = max(worst, d)
		if taken[k] == 0 || d > limit || taken[k] > resumed {
			t.Errorf("shard %d of the paused member taken over %v after the pause, want within %v (and before SIGCONT)", k, d, limit)
		}
	}
	var late *gpCommit
	for i, c := range logs[victim].commits {
		if c.at > paused {
			late = &logs[victim].commits[i]
			break
		}
	}
	switch {
	case late == nil:
		t.Errorf("the paused member logged no commit after SIGCONT")
	case len(late.revoked) == 0 || len(late.committed) != 0:
		t.Errorf("the paused member's late commit: committed %v revoked %v, want every shard revoked", late.committed, late.revoked)
	default:
		t.Logf("the late commit at %s: committed %v, revoked %v", gpTime(late.at), late.committed, late.revoked)
	}
	r.checkReread(t, logs[victim], res, paused+1)
	t.Logf("paused %s holding %v for %v; taken over within %v (limit %v); %d events read twice; scenario %v",
		victim, held, time.Duration(resumed-paused).Round(time.Millisecond), worst.Round(time.Millisecond), limit,
		len(res.dups), time.Since(start).Round(time.Millisecond))
}

// SIGTERM one member: it commits its batch and shuts down, which releases
// its shards; the others hold them within a second, and nothing is read twice.
func gpGracefulScenario(t *testing.T, r *gpRun) {
	const victim = "c"
	start := time.Now()
	r.startAll(t)
	pub := r.publishAsync(0, 20000, 500, 100*time.Millisecond)
	r.waitBalanced(t, gpMembers, 15*time.Second)
	time.Sleep(1500 * time.Millisecond)
	termed := time.Now().UnixNano()
	m := r.members[victim]
	m.ended = true
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	m.waitExit(t, 5*time.Second)
	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	r.waitAll(t, 60*time.Second)
	survivors := []string{"node", "py"}
	r.waitBalanced(t, survivors, 15*time.Second)
	r.stopAll(t)
	logs := r.logs(t)
	res := r.check(t, logs)

	stopped, exited := logs[victim].meta["stop"], logs[victim].meta["exit"]
	if stopped == 0 || exited == 0 {
		t.Fatalf("member %s logged stop %d exit %d", victim, stopped, exited)
	}
	held, _ := logs[victim].lastAssigned(stopped)
	taken := gpTakeover(logs, victim, held, stopped)
	var worst time.Duration
	for _, k := range held {
		d := time.Duration(taken[k] - stopped)
		worst = max(worst, d)
		if taken[k] == 0 || d >= time.Second {
			t.Errorf("shard %d taken over %v after the member began shutting down, want under 1s", k, d)
		}
	}
	if len(res.dups) > 0 {
		t.Errorf("%d events processed twice after a graceful stop, want none", len(res.dups))
	}
	t.Logf("SIGTERM to %s: shutdown began %v later, took %v; its shards %v taken over within %v; scenario %v",
		victim, time.Duration(stopped-termed).Round(time.Millisecond), time.Duration(exited-stopped).Round(time.Millisecond),
		held, worst.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// Each member in turn is SIGSTOPped wherever it happens to be, for the
// session and 4 s more, twice. Whatever it was doing, it must not read a shard
// another member holds (beyond a batch its poll had returned before the stop),
// nor take shards from live members, nor move a committed position backwards.
//
// Not in the default run, for time (about 40 s). It found that a member
// resuming from a pause acted on the view its watcher had delivered before the
// pause (every other member looked dead); acquire now waits until the view
// holds the member's own new heartbeat.
func gpPauseAnywhereScenario(t *testing.T, r *gpRun) {
	start := time.Now()
	r.noRuns = true
	r.resumed = map[string][]int64{}
	r.startAll(t)
	pause := time.Duration(gpSessionMs)*time.Millisecond + 4*time.Second
	pub := r.publishAsync(0, 100000, 500, 100*time.Millisecond)
	r.waitBalanced(t, gpMembers, 15*time.Second)
	for _, victim := range []string{"node", "py", "c", "node", "py", "c"} {
		time.Sleep(300 * time.Millisecond)
		m := r.members[victim]
		stopped := time.Now().UnixNano()
		if err := m.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
		resumed := time.Now().UnixNano()
		r.resumed[victim] = append(r.resumed[victim], resumed)
		if err := m.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s stopped %s, resumed %s", victim, gpTime(stopped), gpTime(resumed))
	}
	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	r.waitAll(t, 60*time.Second)
	r.waitBalanced(t, gpMembers, 15*time.Second)
	r.stopAll(t)
	res := r.check(t, r.logs(t))
	t.Logf("6 pauses of %v; %d events read twice; scenario %v", pause, len(res.dups), time.Since(start).Round(time.Millisecond))
}
