package core

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A three-node JetStream cluster of real nats-server processes: streams with
// replicas 3 keep every acknowledged event when a node is killed, and a publish
// running across the loss is retried until it is stored exactly once.
func TestClusterReplicasSurviveNodeLoss(t *testing.T) {
	bin := serverBinary(t, "NETMESH_NATS_SERVER")
	const n = 3
	all := freePorts(t, 2*n)
	ports, cports := all[:n], all[n:]
	routes := make([]string, n)
	for i, p := range cports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	procs := make([]*natsProc, n)
	logs := make([]*bytes.Buffer, n)
	for i := range procs {
		p := &natsProc{bin: bin, dir: t.TempDir(), port: ports[i]}
		p.cmd = exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(ports[i]), "-sd", p.dir,
			"--server_name", fmt.Sprintf("n%d", i), "--cluster_name", "netmesh-test",
			"--cluster", routes[i], "--routes", strings.Join(routes, ","))
		logs[i] = &bytes.Buffer{}
		p.cmd.Stdout, p.cmd.Stderr = logs[i], logs[i]
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
		t.Cleanup(p.kill)
	}
	urls := make([]string, n)
	for i, p := range procs {
		urls[i] = p.url()
	}
	cfg := urlConfig(strings.Join(urls, ","), `,"replicas":3,"shards":2,"request_timeout_ms":20000`)

	// The cluster needs a moment to elect its JetStream meta leader.
	start := time.Now()
	var b *Bus
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		if b, err = tryOpen(t, cfg); err == nil {
			if _, err = b.Publish([]byte(`{"timeout_ms":3000,"events":` + eventsJSON(numberedEvents(0, 500)) + `}`)); err == nil {
				break
			}
			b.Close() // before the next try; the cleanup's second Close is ignored
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				p.kill() // the logs are complete once the servers are gone
			}
			for i, l := range logs {
				t.Logf("server n%d log tail:\n%s", i, tail(l.String(), 3000))
			}
			t.Fatalf("cluster not ready: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("cluster ready and first 500 events stored after %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()

	// Kill the node the bus is connected to, with a publish running.
	done := make(chan error, 1)
	go func() {
		_, err := b.Publish([]byte(`{"timeout_ms":30000,"batch_id":"cluster-1","events":` + eventsJSON(numberedEvents(500, 19500)) + `}`))
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the publish ended (%v) before the node was killed: make it larger", err)
	default:
	}
	connected := b.js.nc.ConnectedUrl()
	for _, p := range procs {
		if p.url() == connected {
			p.kill()
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("publish across the node loss: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("publish did not return")
	}
	t.Logf("publish across the node loss took %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	// Reads may meet a leader election: retry transient failures.
	var got []eventJSON
	for attempt := 0; ; attempt++ {
		var err error
		got, _, err = pollAllErr(b, "", 5000, "")
		if err == nil || CodeOf(err) != CodeTransient || attempt == 20 {
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("read back %d events in %v", len(got), time.Since(start).Round(time.Millisecond))
	checkExactlyOnce(t, got, 20000)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
