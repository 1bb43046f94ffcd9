package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/netmesh/netmesh/core"
)

// Exit codes. A library error exits 10 + the absolute value of its code
// (invalid_argument 11 … shutdown 17), internal 99; see exitCodesHelp.
const (
	exitOK       = 0
	exitUsage    = 64 // EX_USAGE: the command line could not be used
	exitIO       = 74 // EX_IOERR: reading stdin or writing stdout failed
	exitInternal = 99
)

// usageError is a command line netmesh cannot use: an unknown command or flag,
// a flag value of the wrong form, an event argument that is not JSON,
// flags that exclude each other. It exits 64.
type usageError struct {
	cmd string // the command whose help the message points to; "" for the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// ioError is a failed read of stdin or write of stdout. It exits 74.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ue *usageError
	var ie *ioError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ie):
		return exitIO
	}
	return codeExit(core.CodeOf(err))
}

// codeExit is the exit status of a library code: 10 + |code|, internal 99.
func codeExit(c core.Code) int {
	switch {
	case c == core.CodeOK:
		return exitOK
	case c < 0 && c > -10:
		return 10 - int(c)
	}
	return exitInternal
}

// report prints err on stderr, prefixed with its class (the library's code
// name, "usage" or "io"), and returns the exit status.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ie *ioError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "netmesh: usage: %s\n", ue.msg)
		help := "netmesh help"
		if ue.cmd != "" {
			help += " " + ue.cmd
		}
		fmt.Fprintf(stderr, "run '%s' for usage\n", help)
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "netmesh: io: %s\n", ie.err)
	default:
		fmt.Fprintf(stderr, "netmesh: %s: %s\n", core.CodeOf(err), err)
	}
	return exitCode(err)
}

// codeHelp says what each library code means for a netmesh user; a code
// missing here is described by the library's own text.
var codeHelp = map[core.Code]string{
	core.CodeInvalidArgument: "the library refused a value: --shards 0, a --from cursor that is\n" +
		"      garbage, a --batch-id it does not take, a --config key, a --store-dir\n" +
		"      another process uses; or a stdin line that is not a JSON event",
	core.CodeInvalidHandle: "a handle used after it was closed (netmesh does not do that)",
	core.CodeConnection:    "cannot reach or log in to --url, or the embedded server did not start",
	core.CodeTransient: "timeout, backpressure, leader change: the same command may succeed\n" +
		"      if run again (pub: with the same --batch-id, nothing is stored twice)",
	core.CodeFatal:    "a corrupt record, or a stream netmesh cannot use",
	core.CodeTooLarge: "an event or a request is over the size limits (try a smaller --batch)",
	core.CodeShutdown: "the handle was shutting down",
	core.CodeInternal: "a bug in netmesh: report it with the message",
}

// exitCodesHelp is the exit code table of `netmesh help`; the library codes
// come from its code table, so none can be missing.
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	b.WriteString("   0  success; also a tail stopped by SIGINT or SIGTERM\n")
	for _, row := range core.Codes() {
		if row.Code == core.CodeOK {
			continue
		}
		text, ok := codeHelp[row.Code]
		if !ok {
			text = row.Description
		}
		fmt.Fprintf(&b, "  %2d  %s: %s\n", codeExit(row.Code), row.Name, text)
	}
	b.WriteString("  64  usage: unknown command or flag, a flag value that does not parse\n")
	b.WriteString("      (--shards x, --timeout 5), flags that exclude each other, an event\n")
	b.WriteString("      argument that is not one JSON value, --config that is not an object\n")
	b.WriteString("  74  io: reading stdin or writing stdout failed\n")
	b.WriteString("A library error exits 10 + the absolute value of its code (internal: 99).\n")
	b.WriteString("Values netmesh passes on (--shards, --prefix, --shard, --batch-id, a --from\n")
	b.WriteString("cursor, tail's --batch, --config keys) are checked by the library: a bad one\n")
	b.WriteString("exits 11 with the library's message.\n")
	return b.String()
}
