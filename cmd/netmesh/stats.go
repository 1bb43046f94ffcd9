package main

import (
	"flag"
	"fmt"
)

func statsCommand() *command {
	return &command{
		name: "stats", summary: "print the stats JSON of a handle on one line",
		help: `Usage: netmesh [common flags] stats

Opens a handle with the common flags, prints its stats JSON (docs/reference.md#stats)
on one line and closes it: the server's url, version and health, the shards and
prefix in use. The counters are the handle's own, so they are zero here.

  netmesh --url nats://127.0.0.1:4222 stats | jq .server

` + commonFlagsHelp,
		setup: func(*flag.FlagSet) runFunc { return runStats },
	}
}

func runStats(e *env, c *common, args []string) (err error) {
	if len(args) > 0 {
		return usagef("stats", "stats takes no arguments, got %q", args[0])
	}
	bus, _, err := c.open("stats")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := bus.Close(); err == nil {
			err = cerr
		}
	}()
	out, err := bus.Stats()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.stdout, "%s\n", out); err != nil {
		return &ioError{err}
	}
	return nil
}
