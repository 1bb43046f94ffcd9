package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/netmesh/netmesh/core"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs netmesh in-process, as main does, without signal handling.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return cliContext(context.Background(), stdin, args...)
}

func cliContext(ctx context.Context, stdin string, args ...string) result {
	var out, errb syncBuffer
	code := runEnv(&env{ctx: ctx, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return result{code, out.String(), errb.String()}
}

// ok fails the test unless the command exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// embedded returns the common flags of a fresh embedded bus of 4 shards.
func embedded(t *testing.T) []string {
	return []string{"--store-dir", filepath.Join(t.TempDir(), "store"), "--shards", "4"}
}

func args(common []string, more ...string) []string {
	return append(append([]string{}, common...), more...)
}

// numbered returns JSON lines {"n":from}…{"n":to-1}.
func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"n":%d,"kind":"test"}`+"\n", i)
	}
	return b.String()
}

type tailEvent struct {
	ID    string          `json:"id"`
	Shard *int            `json:"shard"`
	TS    string          `json:"ts"`
	Raw   json.RawMessage `json:"raw"`
}

// events decodes tail's stdout: one event object per line, nothing else.
func events(t *testing.T, stdout string) []tailEvent {
	t.Helper()
	var evs []tailEvent
	for i, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if line == "" && stdout == "" {
			break
		}
		var e tailEvent
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.ID == "" || e.Shard == nil || e.TS == "" || e.Raw == nil {
			t.Fatalf("line %d is not an event object: %q (%v)", i+1, line, err)
		}
		for _, dec := range []string{e.ID, e.TS} {
			if _, err := strconv.ParseUint(dec, 10, 64); err != nil {
				t.Fatalf("line %d: %q is not a decimal string", i+1, dec)
			}
		}
		evs = append(evs, e)
	}
	return evs
}

// checkNumbered checks that evs hold {"n":from}…{"n":to-1} exactly once each,
// and that each shard's ids increase.
func checkNumbered(t *testing.T, evs []tailEvent, from, to int) {
	t.Helper()
	seen := map[int]int{}
	lastID := map[int]uint64{}
	for _, e := range evs {
		var raw struct{ N *int }
		if err := json.Unmarshal(e.Raw, &raw); err != nil || raw.N == nil {
			t.Fatalf("raw %s is not a numbered event", e.Raw)
		}
		seen[*raw.N]++
		id, _ := strconv.ParseUint(e.ID, 10, 64)
		if id <= lastID[*e.Shard] {
			t.Fatalf("shard %d: id %d after %d", *e.Shard, id, lastID[*e.Shard])
		}
		lastID[*e.Shard] = id
	}
	for n := from; n < to; n++ {
		if seen[n] != 1 {
			t.Fatalf("event %d read %d times", n, seen[n])
		}
	}
	if len(evs) != to-from {
		t.Fatalf("read %d events, want %d", len(evs), to-from)
	}
}

var resumeRe = regexp.MustCompile(`resume with --from (\S+)\n`)

// resumeCursor is the cursor tail printed on stderr.
func resumeCursor(t *testing.T, stderr string) string {
	t.Helper()
	m := resumeRe.FindAllStringSubmatch(stderr, -1)
	if m == nil {
		t.Fatalf("no cursor on stderr: %s", stderr)
	}
	return m[len(m)-1][1]
}

func TestPubThenTailThousand(t *testing.T) {
	common := embedded(t)
	r := cli(t, numbered(0, 1000), args(common, "pub")...).ok(t)
	if r.stdout != "" {
		t.Fatalf("pub wrote on stdout: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "published 1000, duplicates 0 (1000 events in 1 request") {
		t.Fatalf("summary: %s", r.stderr)
	}
	r = cli(t, "", args(common, "tail")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 1000)
	cursor := resumeCursor(t, r.stderr)
	if !strings.Contains(r.stderr, "netmesh: 1000 events;") {
		t.Fatalf("stderr: %s", r.stderr)
	}

	// The cursor resumes after everything: nothing, then only what is new.
	r = cli(t, "", args(common, "tail", "--from", cursor)...).ok(t)
	if r.stdout != "" {
		t.Fatalf("tail from the end printed %q", r.stdout)
	}
	cli(t, "", args(common, "pub", `{"n":1000}`, `{"n":1001}`)...).ok(t)
	r = cli(t, "", args(common, "tail", "--from", cursor)...).ok(t)
	checkNumbered(t, events(t, r.stdout), 1000, 1002)
}

// --limit stops after N events; its cursor resumes exactly after them.
func TestTailLimitAndResume(t *testing.T) {
	common := embedded(t)
	cli(t, numbered(0, 1000), args(common, "pub", "--batch", "300")...).ok(t)
	r := cli(t, "", args(common, "tail", "--limit", "250", "--batch", "100")...).ok(t)
	first := events(t, r.stdout)
	if len(first) != 250 {
		t.Fatalf("--limit 250 printed %d events", len(first))
	}
	r = cli(t, "", args(common, "tail", "--from", resumeCursor(t, r.stderr))...).ok(t)
	checkNumbered(t, append(first, events(t, r.stdout)...), 0, 1000)
}

// Each argument is one event of any JSON kind, stored as written; --shard
// places them, --acks prints the response.
func TestPubArgumentsShardAcks(t *testing.T) {
	common := embedded(t)
	vals := []string{`{"user":"ada"}`, `42`, `"text"`, `[1, 2]`, `true`, `{"nested":{"a":[null]}}`}
	r := cli(t, "", args(common, append([]string{"pub", "--shard", "2", "--acks"}, vals...)...)...).ok(t)
	var resp struct {
		Published int `json:"published"`
		Acks      []struct {
			Shard int    `json:"shard"`
			Seq   string `json:"seq"`
		} `json:"acks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--acks printed %q (%v)", r.stdout, err)
	}
	if resp.Published != len(vals) || len(resp.Acks) != len(vals) || resp.Acks[5].Shard != 2 || resp.Acks[5].Seq != "6" {
		t.Fatalf("acks: %+v", resp)
	}
	r = cli(t, "", args(common, "tail", "--shard", "2")...).ok(t)
	evs := events(t, r.stdout)
	if len(evs) != len(vals) {
		t.Fatalf("tail --shard 2 printed %d events", len(evs))
	}
	for i, e := range evs {
		if string(e.Raw) != vals[i] || *e.Shard != 2 || e.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d: %+v, want raw %s on shard 2", i, e, vals[i])
		}
	}
	if r := cli(t, "", args(common, "tail", "--shard", "1")...).ok(t); r.stdout != "" {
		t.Fatalf("shard 1 holds %q", r.stdout)
	}
}

// An event published across lines still prints on one line.
func TestTailPrintsOneLinePerEvent(t *testing.T) {
	common := embedded(t)
	cli(t, "", args(common, "pub", "{\n  \"a\": 1,\n  \"b\": \"x y\"\n}")...).ok(t)
	r := cli(t, "", args(common, "tail")...).ok(t)
	evs := events(t, r.stdout)
	if len(evs) != 1 || string(evs[0].Raw) != `{"a":1,"b":"x y"}` {
		t.Fatalf("printed %q", r.stdout)
	}
}

// With --batch-id a rerun of the same input stores nothing twice, blank lines
// and all.
func TestBatchIDRerunStoresNothingTwice(t *testing.T) {
	common := embedded(t)
	input := strings.Replace(numbered(0, 2500), "\n", "\n\n", 7) // some blank lines
	r := cli(t, input, args(common, "pub", "--batch-id", "import-1")...).ok(t)
	if !strings.Contains(r.stderr, "published 2500, duplicates 0 (2500 events in 3 requests") {
		t.Fatalf("first run: %s", r.stderr)
	}
	r = cli(t, input, args(common, "pub", "--batch-id", "import-1")...).ok(t)
	if !strings.Contains(r.stderr, "published 0, duplicates 2500 (2500 events in 3 requests") {
		t.Fatalf("rerun: %s", r.stderr)
	}
	// A run cut short and resumed: the first two requests again, then all.
	cli(t, numbered(0, 2000), args(common, "pub", "--batch-id", "import-1")...).ok(t)
	r = cli(t, "", args(common, "tail")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 2500)
	// Another id is another request: stored again.
	r = cli(t, numbered(0, 10), args(common, "pub", "--batch-id", "import-2")...).ok(t)
	if !strings.Contains(r.stderr, "published 10, duplicates 0") {
		t.Fatalf("other id: %s", r.stderr)
	}
}

func TestGroupTailReadsOnceAndCommits(t *testing.T) {
	common := embedded(t)
	cli(t, numbered(0, 700), args(common, "pub")...).ok(t)
	r := cli(t, "", args(common, "tail", "--group", "billing", "--batch", "100")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 700)
	if !strings.Contains(r.stderr, "group billing: this member holds shards [0 1 2 3]") ||
		!strings.Contains(r.stderr, "netmesh: 700 events (group billing)") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	// Committed: the group has nothing more, then only what is new.
	r = cli(t, "", args(common, "tail", "--group", "billing")...).ok(t)
	if r.stdout != "" {
		t.Fatalf("second group tail printed %d bytes", len(r.stdout))
	}
	cli(t, numbered(700, 750), args(common, "pub")...).ok(t)
	r = cli(t, "", args(common, "tail", "--group", "billing", "--member", "m1")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 700, 750)
	// Another group starts from the beginning; latest starts at the end.
	r = cli(t, "", args(common, "tail", "--group", "audit")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 750)
	r = cli(t, "", args(common, "tail", "--group", "late", "--from", "latest")...).ok(t)
	if r.stdout != "" {
		t.Fatalf("--from latest group printed %d bytes", len(r.stdout))
	}
	// A --limit stops mid-way; the group goes on from what was committed.
	cli(t, numbered(750, 1000), args(common, "pub")...).ok(t)
	r = cli(t, "", args(common, "tail", "--group", "late", "--limit", "100", "--batch", "40")...).ok(t)
	first := events(t, r.stdout)
	r = cli(t, "", args(common, "tail", "--group", "late")...).ok(t)
	checkNumbered(t, append(first, events(t, r.stdout)...), 750, 1000)
}

func TestBadInput(t *testing.T) {
	common := embedded(t)
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"argument not JSON", "", args(common, "pub", `{"a":1}`, "hello"), 64,
			`netmesh: usage: argument 2 is not a JSON event: invalid character 'h' looking for beginning of value (a JSON string needs its quotes: '"hello"')`},
		{"two values in one argument", "", args(common, "pub", `1 2`), 64, "argument 1 is not a JSON event"},
		{"null argument", "", args(common, "pub", `null`), 64, "argument 1 is not a JSON event: null is not an event"},
		{"unknown flag", "", args(common, "pub", "--nope"), 64, "netmesh: usage: flag provided but not defined: -nope\nrun 'netmesh help pub' for usage"},
		{"unknown top flag", "", []string{"--nope", "stats"}, 64, "flag provided but not defined: -nope"},
		{"unknown command", "", []string{"frob"}, 64, `unknown command "frob"`},
		{"no command", "", nil, 64, "no command"},
		{"shards not a number", "", []string{"--shards", "x", "stats"}, 64, `invalid value "x" for flag -shards: not an integer`},
		{"shards 0", "", args(common, "--shards", "0", "pub", "1"), 11, "netmesh: invalid_argument: shards must be an integer in 1..1024, got 0"},
		{"shards 0 on tail", "", args(common, "tail", "--shards", "0"), 11, "shards must be an integer in 1..1024, got 0"},
		{"garbage cursor", "", args(common, "tail", "--from", "garbage!"), 11, "netmesh: invalid_argument: cursor is not standard base64"},
		{"cursor of other shards", "", args(common, "tail", "--from", "eyI5IjoiMSJ9"), 11, "netmesh: invalid_argument: cursor"},
		{"empty --from", "", args(common, "tail", "--from", ""), 64, "--from needs earliest, latest or a cursor"},
		{"stdin line not JSON", "{\"a\":1}\n{oops}\n", args(common, "pub"), 11, "netmesh: invalid_argument: stdin line 2 is not a JSON event"},
		{"batch 0", "", args(common, "pub", "--batch", "0", "1"), 64, "--batch must be at least 1"},
		{"empty batch id", "", args(common, "pub", "--batch-id", "", "1"), 64, "-batch-id: must not be empty"},
		{"bad batch id", "", args(common, "pub", "--batch-id", "a b", "1"), 11, `batch_id must match [A-Za-z0-9_.:-]{1,128}, got "a b:0"`},
		{"shard out of range", "", args(common, "pub", "--shard", "4", "1"), 11, "shard must be an integer in 0..3, got 4"},
		{"tail limit too big a batch", "", args(common, "tail", "--batch", "20000"), 11, "limit must be an integer in 1..10000, got 20000"},
		{"group and shard", "", args(common, "tail", "--group", "g", "--shard", "1"), 64, "--shard and --group exclude each other"},
		{"group and cursor", "", args(common, "tail", "--group", "g", "--from", "eyIwIjoiMSJ9"), 64, "--from takes only earliest or latest"},
		{"member without group", "", args(common, "tail", "--member", "m"), 64, "--member goes with --group"},
		{"bad group name", "", args(common, "tail", "--group", "a.b"), 11, "group must match"},
		{"tail arguments", "", args(common, "tail", "x"), 64, `tail takes no arguments, got "x"`},
		{"config not an object", "", []string{"--config", "[1]", "stats"}, 64, "--config must be a JSON object"},
		{"config duplicate key", "", []string{"--config", `{"shards":2,"shards":3}`, "stats"}, 64, `key "shards" appears twice`},
		{"config unknown key", "", args(common, "--config", `{"shard":2}`, "stats"), 11, "invalid_argument: config"},
		{"config file missing", "", []string{"--config", "@/nonexistent/x.json", "stats"}, 64, "--config: open /nonexistent/x.json"},
		{"timeout not a duration", "", []string{"--timeout", "5", "stats"}, 64, "not a duration"},
		{"timeout zero", "", args(common, "--timeout", "0s", "stats"), 64, "--timeout must be positive"},
		{"store-dir with url", "", []string{"--url", "nats://127.0.0.1:1", "--store-dir", "x", "stats"}, 64, "--store-dir is for the embedded server"},
		{"unreachable server", "", []string{"--url", "nats://127.0.0.1:1", "--config", `{"connect_timeout_ms":200}`, "stats"}, 13, "netmesh: connection: "},
		{"help of unknown", "", []string{"help", "frob"}, 64, `unknown command "frob"`},
		{"event over max_payload", "", args(common, "pub", `"`+strings.Repeat("x", 1<<20)+`"`), 16, "netmesh: too_large: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, c.stdin, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
				t.Fatalf("exit %d, want %d; stderr %q, want it to contain %q", r.code, c.code, r.stderr, c.msg)
			}
			if r.stdout != "" {
				t.Fatalf("stdout: %q", r.stdout)
			}
		})
	}
	// Nothing of the refused publishes was stored (the stdin case stops
	// before sending its first request).
	if r := cli(t, "", args(common, "tail")...).ok(t); r.stdout != "" {
		t.Fatalf("refused input was stored: %q", r.stdout)
	}
}

// Requests stay under max_request_bytes: a small one splits the batches.
func TestPubSplitsByBytes(t *testing.T) {
	common := args(embedded(t), "--config", `{"max_request_bytes":2048}`)
	r := cli(t, numbered(0, 100), args(common, "pub", "--batch-id", "small")...).ok(t)
	m := regexp.MustCompile(`published 100, duplicates 0 \(100 events in (\d+) requests`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Fatalf("100 events in %d requests under 2048 bytes", n)
	}
	r = cli(t, numbered(0, 100), args(common, "pub", "--batch-id", "small")...).ok(t)
	if !strings.Contains(r.stderr, "published 0, duplicates 100") {
		t.Fatalf("rerun: %s", r.stderr)
	}
	r = cli(t, "", args(common, "tail")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 100)
}

// A failure after some requests were stored says how far it got.
func TestPubStopsAtBadLineAndSaysWhatIsStored(t *testing.T) {
	common := embedded(t)
	input := numbered(0, 25) + "not json\n" + numbered(25, 30)
	r := cli(t, input, args(common, "pub", "--batch", "10", "--batch-id", "b")...)
	if r.code != 11 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "netmesh: stopped at the bad line, sent nothing from line 21 on; the 2 requests before stored 20 events (published 20, duplicates 0); rerun with the same --batch-id and --batch to store the rest once\n" +
		"netmesh: invalid_argument: stdin line 26 is not a JSON event: invalid character 'o' in literal null (expecting 'u')\n"
	if r.stderr != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	fixed := strings.Replace(input, "not json\n", "", 1)
	r = cli(t, fixed, args(common, "pub", "--batch", "10", "--batch-id", "b")...).ok(t)
	if !strings.Contains(r.stderr, "published 10, duplicates 20") {
		t.Fatalf("rerun: %s", r.stderr)
	}
	r = cli(t, "", args(common, "tail")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 30)
}

func TestExitCodes(t *testing.T) {
	want := map[core.Code]int{core.CodeOK: 0, core.CodeInvalidArgument: 11, core.CodeInvalidHandle: 12,
		core.CodeConnection: 13, core.CodeTransient: 14, core.CodeFatal: 15, core.CodeTooLarge: 16,
		core.CodeShutdown: 17, core.CodeInternal: 99}
	for _, row := range core.Codes() {
		w, ok := want[row.Code]
		if !ok {
			t.Fatalf("code %v (%s) has no exit status in this test", row.Code, row.Name)
		}
		if got := codeExit(row.Code); got != w {
			t.Errorf("%s: exit %d, want %d", row.Name, got, w)
		}
		if got := exitCode(core.NewError(row.Code, "x")); row.Code != core.CodeOK && got != w {
			t.Errorf("error of %s: exit %d, want %d", row.Name, got, w)
		}
	}
	if exitCode(usagef("", "x")) != 64 || exitCode(&ioError{os.ErrClosed}) != 74 || exitCode(fmt.Errorf("other")) != 99 {
		t.Fatal("usage, io or other error: wrong exit")
	}
}

func TestHelp(t *testing.T) {
	r := cli(t, "", "help").ok(t)
	for _, row := range core.Codes() {
		line := fmt.Sprintf("  %2d  %s: ", codeExit(row.Code), row.Name)
		if row.Code != core.CodeOK && !strings.Contains(r.stdout, line) {
			t.Errorf("help lacks %q", line)
		}
	}
	for _, s := range []string{"  64  usage: ", "  74  io: ", "pub ", "tail ", "stats ", "version ", "--url URL", "--store-dir DIR"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("help lacks %q", s)
		}
	}
	if h := cli(t, "", "--help").ok(t); h.stdout != r.stdout {
		t.Error("--help differs from help")
	}
	for _, cmd := range []string{"pub", "tail", "stats", "version", "help"} {
		a := cli(t, "", "help", cmd).ok(t)
		b := cli(t, "", cmd, "-h").ok(t)
		if a.stdout == "" || a.stdout != b.stdout || !strings.HasPrefix(a.stdout, "Usage: netmesh") {
			t.Errorf("help %s: %q / %q", cmd, a.stdout, b.stdout)
		}
	}
	if !strings.Contains(cli(t, "", "help", "pub").stdout, "ID:<i>") {
		t.Error("pub help does not say how --batch-id names requests")
	}
	v := cli(t, "", "version").ok(t)
	if v.stdout != fmt.Sprintf("netmesh %s (abi %d, %s)\n", core.Version, core.ABIVersion, runtimeVersion()) {
		t.Errorf("version: %q", v.stdout)
	}
}

func TestStats(t *testing.T) {
	common := embedded(t)
	r := cli(t, "", args(common, "--prefix", "cli", "stats")...).ok(t)
	var s struct {
		Shards   int    `json:"shards"`
		Prefix   string `json:"prefix"`
		Embedded bool   `json:"embedded"`
		Healthy  bool   `json:"healthy"`
	}
	if strings.Count(r.stdout, "\n") != 1 || json.Unmarshal([]byte(r.stdout), &s) != nil ||
		s.Shards != 4 || s.Prefix != "cli" || !s.Embedded || !s.Healthy {
		t.Fatalf("stats: %q", r.stdout)
	}
}

func TestConfigMerge(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `{}`},
		{[]string{"--config", `{"log_level":"off","embedded":{"memory":true}}`, "--store-dir", "d", "--shards", "2"},
			`{"log_level":"off","embedded":{"memory":true,"store_dir":"d"},"shards":2}`},
		{[]string{"--config", `{"embedded":{"memory":true},"prefix":"a"}`, "--url", "nats://h:4222", "--prefix", "b"},
			`{"prefix":"b","url":"nats://h:4222"}`},
		{[]string{"--config", `{"embedded":null}`, "--store-dir", "d", "--timeout", "1500us"},
			`{"embedded":{"store_dir":"d"},"request_timeout_ms":2}`},
	} {
		cm := newCommon()
		fs := newTestFlagSet(cm)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := cm.configJSON("")
		if err != nil || string(got) != c.want {
			t.Errorf("%q: %s (%v), want %s", c.args, got, err, c.want)
		}
	}
}

// tail stops when stdout cannot be written (exit 74) and commits nothing.
func TestTailStdoutErrorExits74(t *testing.T) {
	common := embedded(t)
	cli(t, numbered(0, 10), args(common, "pub")...).ok(t)
	var errb bytes.Buffer
	code := runEnv(&env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: failWriter{}, stderr: &errb},
		args(common, "tail", "--group", "g"))
	if code != 74 || !strings.Contains(errb.String(), "netmesh: io: writing stdout: ") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r := cli(t, "", args(common, "tail", "--group", "g")...).ok(t)
	checkNumbered(t, events(t, r.stdout), 0, 10)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// natsServer starts a real nats-server (NETMESH_NATS_SERVER, built by make
// tools) with JetStream on a free port and returns its URL.
func natsServer(t *testing.T) (url string, restart func(kill bool)) {
	t.Helper()
	bin := os.Getenv("NETMESH_NATS_SERVER")
	if bin == "" {
		t.Skip("NETMESH_NATS_SERVER not set (make cli-test builds it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return
			}
		}
		t.Fatalf("nats-server on port %d did not start", port)
	}
	stop := func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			cmd = nil
		}
	}
	start()
	t.Cleanup(stop)
	return fmt.Sprintf("nats://127.0.0.1:%d", port), func(kill bool) {
		stop()
		if !kill {
			start()
		}
	}
}

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// tail --follow prints an event published after it started, and stops
// cleanly (exit 0, with a cursor that resumes after what it printed).
func TestTailFollowSeesNewEvents(t *testing.T) {
	url, _ := natsServer(t)
	common := []string{"--url", url, "--shards", "4"}
	cli(t, "", args(common, "pub", `{"n":0}`)...).ok(t)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runEnv(&env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args(common, "tail", "--follow"))
	}()
	waitFor(t, 10*time.Second, "the first event", func() bool { return strings.Count(out.String(), "\n") == 1 })
	start := time.Now()
	cli(t, "", args(common, "pub", `{"n":1}`)...).ok(t)
	waitFor(t, 10*time.Second, "the event published after the tail started", func() bool { return strings.Count(out.String(), "\n") == 2 })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the follow took %v to print a new event", d)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("interrupted follow exit %d: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("follow did not stop")
	}
	checkNumbered(t, events(t, out.String()), 0, 2)
	r := cli(t, "", args(common, "tail", "--from", resumeCursor(t, errb.String()))...).ok(t)
	if r.stdout != "" {
		t.Fatalf("the follow's cursor resumes before its end: %q", r.stdout)
	}
}

// A follow rides out a server restart: it polls again, then prints what is
// published after the server is back.
func TestTailFollowSurvivesServerRestart(t *testing.T) {
	url, restart := natsServer(t)
	common := []string{"--url", url, "--shards", "2", "--timeout", "1s"}
	cli(t, "", args(common, "pub", `{"n":0}`)...).ok(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runEnv(&env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args(common, "tail", "-f"))
	}()
	waitFor(t, 10*time.Second, "the first event", func() bool { return strings.Count(out.String(), "\n") == 1 })
	restart(true)
	waitFor(t, 15*time.Second, "a transient error", func() bool { return strings.Contains(errb.String(), "netmesh: transient: ") })
	restart(false)
	waitFor(t, 30*time.Second, "a publish after the restart", func() bool {
		return cli(t, "", args(common, "pub", "--batch-id", "after-restart", `{"n":1}`)...).code == 0
	})
	waitFor(t, 15*time.Second, "the event published after the restart", func() bool { return strings.Count(out.String(), "\n") == 2 })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	checkNumbered(t, events(t, out.String()), 0, 2)
}

func newTestFlagSet(c *common) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.register(fs)
	return fs
}

func runtimeVersion() string { return runtime.Version() }

// A corrupt record stops tail with fatal (exit 15) after the events before it,
// with a cursor to resume from; --skip-corrupt passes it.
func TestTailCorruptRecord(t *testing.T) {
	url, _ := natsServer(t)
	common := []string{"--url", url, "--shards", "1"}
	cli(t, "", args(common, "pub", `{"n":0}`, `{"n":1}`)...).ok(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("netmesh.shard.0", []byte(`{"r":null,"t":1,"s":0}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	cli(t, "", args(common, "pub", `{"n":2}`)...).ok(t)

	r := cli(t, "", args(common, "tail")...)
	if r.code != 15 || !strings.Contains(r.stderr, "netmesh: fatal: shard 0 seq 3: corrupt record (r is null)") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	checkNumbered(t, events(t, r.stdout), 0, 2)
	r = cli(t, "", args(common, "tail", "--skip-corrupt", "--from", resumeCursor(t, r.stderr))...).ok(t)
	checkNumbered(t, events(t, r.stdout), 2, 3)
}
