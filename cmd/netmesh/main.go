// Command netmesh publishes and reads events on a netmesh bus from the command
// line, as nats or kcat do for theirs: `netmesh pub` sends JSON events,
// `netmesh tail` prints them as JSON lines, `netmesh stats` prints a handle's
// stats. It is built on package core (no cgo); `netmesh help` documents the
// flags and the exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/netmesh/netmesh/core"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command runs with. ctx ends when the command should stop
// (tail stops cleanly); with signals, tail also stops on SIGINT and SIGTERM.
type env struct {
	ctx     context.Context
	signals bool
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

// run is the whole program: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(&env{ctx: context.Background(), signals: true, stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

// command is one subcommand. setup registers the command's own flags on a
// fresh flag set (fresh variables on every call) and returns what runs it.
type command struct {
	name, summary, help string
	setup               func(fs *flag.FlagSet) runFunc
}

type runFunc func(e *env, c *common, args []string) error

// commands is filled in init: the help command lists it.
var commands []*command

func init() {
	commands = []*command{pubCommand(), tailCommand(), statsCommand(), versionCommand(), helpCommand()}
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func runEnv(e *env, args []string) int {
	c := newCommon()
	fs := flag.NewFlagSet("netmesh", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, topHelp())
			return exitOK
		}
		return report(e.stderr, usagef("", "%v", err))
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return report(e.stderr, usagef("", "no command: use pub, tail, stats, version or help"))
	}
	cmd := findCommand(rest[0])
	if cmd == nil {
		return report(e.stderr, usagef("", "unknown command %q: use pub, tail, stats, version or help", rest[0]))
	}
	cfs := flag.NewFlagSet("netmesh "+cmd.name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	if cmd.name != "help" && cmd.name != "version" {
		c.register(cfs)
	}
	runCmd := cmd.setup(cfs)
	if err := cfs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, cmd.help)
			return exitOK
		}
		return report(e.stderr, usagef(cmd.name, "%v", err))
	}
	return report(e.stderr, runCmd(e, c, cfs.Args()))
}

func topHelp() string {
	s := `netmesh: publish and read the JSON events of a netmesh bus (NATS JetStream)

Usage:
  netmesh [common flags] <command> [flags] [arguments]

Commands:
`
	for _, c := range commands {
		s += fmt.Sprintf("  %-8s %s\n", c.name, c.summary)
	}
	s += `
'netmesh help <command>' (or 'netmesh <command> -h') describes one command.
Flags take one dash or two; flags come before the command's arguments.

` + commonFlagsHelp + `
Examples:
  netmesh pub '{"user":"ada","action":"login"}'
  jq -c '.[]' events.json | netmesh pub --batch-id import-2026-11-29
  netmesh tail | jq -r .raw.user
  netmesh tail --from latest --follow
  netmesh --url nats://127.0.0.1:4222 tail --group billing --follow

Progress and errors go to stderr as 'netmesh: <code>: <message>'; stdout
carries only data (events, stats, acks).

` + exitCodesHelp()
	return s
}

func helpCommand() *command {
	return &command{
		name: "help", summary: "describe netmesh, or one command: netmesh help <command>",
		help:  "Usage: netmesh help [command]\n",
		setup: func(*flag.FlagSet) runFunc { return runHelp },
	}
}

func runHelp(e *env, _ *common, args []string) error {
	switch len(args) {
	case 0:
		fmt.Fprint(e.stdout, topHelp())
		return nil
	case 1:
		if c := findCommand(args[0]); c != nil {
			fmt.Fprint(e.stdout, c.help)
			return nil
		}
		return usagef("", "unknown command %q", args[0])
	}
	return usagef("help", "help takes at most one command")
}

func versionCommand() *command {
	return &command{
		name: "version", summary: "print the version of netmesh and of its library",
		help:  "Usage: netmesh version\n\nPrints netmesh's version (the library's, core.Version), the C ABI version\nand the Go version it was built with.\n",
		setup: func(*flag.FlagSet) runFunc { return runVersion },
	}
}

func runVersion(e *env, _ *common, args []string) error {
	if len(args) > 0 {
		return usagef("version", "version takes no arguments")
	}
	if _, err := fmt.Fprintf(e.stdout, "netmesh %s (abi %d, %s)\n", core.Version, core.ABIVersion, runtime.Version()); err != nil {
		return &ioError{err}
	}
	return nil
}
