// Command rawpub publishes one message to a JetStream subject, byte for byte,
// and prints the server's acknowledgement as JSON.
//
// The Python and Node binding tests use it to store records netmesh itself never
// writes (a corrupt record, text that is not JSON) on a listening embedded
// server, so that each language's handling of them can be tested:
//
//	rawpub [-timeout 5s] URL SUBJECT < PAYLOAD
//	{"stream":"netmesh_shard_0","seq":2,"duplicate":false}
//
// The payload is standard input, exactly (no newline is added or removed). It
// exits 0 after printing the ack; 1 with a message on stderr when the server
// cannot be reached or does not acknowledge the message (no stream on that
// subject, a timeout); 2 for a usage error. `make py-test` and `make node-test`
// build it as build/tools/rawpub and pass its path in NETMESH_RAWPUB.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ack is what rawpub prints: where JetStream stored the message.
type ack struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

func main() {
	flags := flag.NewFlagSet("rawpub", flag.ContinueOnError)
	timeout := flags.Duration("timeout", 5*time.Second, "bound for connecting and for the acknowledgement")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: rawpub [-timeout 5s] URL SUBJECT < PAYLOAD")
		flags.PrintDefaults()
	}
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if flags.NArg() != 2 || *timeout <= 0 {
		flags.Usage()
		os.Exit(2)
	}
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(fmt.Errorf("reading the payload from stdin: %w", err))
	}
	out, err := publish(flags.Arg(0), flags.Arg(1), payload, *timeout)
	if err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

// publish connects to url, publishes payload to subject through JetStream and
// waits for its acknowledgement.
func publish(url, subject string, payload []byte, timeout time.Duration) (ack, error) {
	nc, err := nats.Connect(url, nats.Name("netmesh-rawpub"), nats.Timeout(timeout),
		nats.NoReconnect())
	if err != nil {
		return ack{}, fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return ack{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pa, err := js.Publish(ctx, subject, payload)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			return ack{}, fmt.Errorf("publishing to %s: no stream stores this subject: %w", subject, err)
		}
		return ack{}, fmt.Errorf("publishing to %s: %w", subject, err)
	}
	return ack{Stream: pa.Stream, Seq: pa.Sequence, Duplicate: pa.Duplicate}, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rawpub:", err)
	os.Exit(1)
}
