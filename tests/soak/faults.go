package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

const restartBound = 30 * time.Second

// killRestart SIGKILLs a server and starts it again on the same port and store
// dir after a random pause of 0.1–2 s.
func killRestart(s *server, rng *rand.Rand) (string, error) {
	pause := 100*time.Millisecond + time.Duration(rng.Int64N(int64(1900*time.Millisecond)))
	s.kill()
	time.Sleep(pause)
	t0 := time.Now()
	if err := s.start(); err != nil {
		return "", err
	}
	if err := s.waitReady(restartBound); err != nil {
		return "", err
	}
	return fmt.Sprintf("SIGKILL %s, restarted after %v (listening in %v)", s.name,
		pause.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond)), nil
}

// stopCont SIGSTOPs a server for 1–3 s, then SIGCONTs it.
func stopCont(s *server, rng *rand.Rand) (string, error) {
	d := time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return "", err
	}
	time.Sleep(d)
	if err := s.signal(syscall.SIGCONT); err != nil {
		return "", err
	}
	return fmt.Sprintf("SIGSTOP %s for %v", s.name, d.Round(time.Millisecond)), nil
}

// singleFaults are the faults of one server.
type singleFaults struct{ srv *server }

func (f *singleFaults) kinds() []string { return []string{"kill", "stop"} }

func (f *singleFaults) inject(kind string, rng *rand.Rand) (string, bool, error) {
	var desc string
	var err error
	switch kind {
	case "kill":
		desc, err = killRestart(f.srv, rng)
	case "stop":
		desc, err = stopCont(f.srv, rng)
	default:
		err = fmt.Errorf("unknown fault %q", kind)
	}
	return desc, err == nil, err
}

// clusterFaults are the faults of a three-node cluster: a stream leader
// step-down through the JetStream API, a node killed and restarted, a node
// stopped and continued.
type clusterFaults struct {
	nodes  []*server
	nc     *nats.Conn
	prefix string
	shards int
}

func (f *clusterFaults) kinds() []string { return []string{"stepdown", "kill", "stop"} }

func (f *clusterFaults) inject(kind string, rng *rand.Rand) (string, bool, error) {
	switch kind {
	case "stepdown":
		return f.stepDown(rng)
	case "kill":
		desc, err := killRestart(f.nodes[rng.IntN(len(f.nodes))], rng)
		return desc, err == nil, err
	case "stop":
		desc, err := stopCont(f.nodes[rng.IntN(len(f.nodes))], rng)
		return desc, err == nil, err
	}
	return "", false, fmt.Errorf("unknown fault %q", kind)
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// stepDown asks the leader of a random shard's stream to step down; up to three
// tries (another shard each time) when the cluster refuses or does not answer.
func (f *clusterFaults) stepDown(rng *rand.Rand) (string, bool, error) {
	var last string
	for try := 0; try < 3; try++ {
		stream := fmt.Sprintf("%s_shard_%d", f.prefix, rng.IntN(f.shards))
		leader := f.leaderOf(stream)
		msg, err := f.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 5*time.Second)
		if err != nil {
			last = fmt.Sprintf("step down %s: %v", stream, err)
		} else {
			var r struct {
				Success bool      `json:"success"`
				Error   *apiError `json:"error"`
			}
			if err := json.Unmarshal(msg.Data, &r); err != nil {
				last = fmt.Sprintf("step down %s: answer %s", stream, clip(msg.Data))
			} else if r.Success {
				return fmt.Sprintf("step down %s leader %s", stream, leader), true, nil
			} else if r.Error != nil {
				last = fmt.Sprintf("step down %s: %d/%d %s", stream, r.Error.Code, r.Error.ErrCode, r.Error.Description)
			} else {
				last = fmt.Sprintf("step down %s: answer %s", stream, clip(msg.Data))
			}
		}
		time.Sleep(time.Second)
	}
	return last, false, nil
}

// leaderOf names the stream's leader for the fault's log line ("?" if unknown).
func (f *clusterFaults) leaderOf(stream string) string {
	msg, err := f.nc.Request("$JS.API.STREAM.INFO."+stream, nil, 2*time.Second)
	if err != nil {
		return "?"
	}
	var r struct {
		Cluster struct {
			Leader string `json:"leader"`
		} `json:"cluster"`
	}
	if json.Unmarshal(msg.Data, &r) != nil || r.Cluster.Leader == "" {
		return "?"
	}
	return r.Cluster.Leader
}
