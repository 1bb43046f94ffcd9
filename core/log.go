package core

import (
	"fmt"
	"log"
	"os"
)

const (
	levelOff = iota
	levelError
	levelWarn
	levelInfo
	levelDebug
)

// logger writes to stderr at the configured level. Every line goes through
// redact, so credentials that a client or the server echo never reach it.
type logger struct {
	level  int
	out    *log.Logger
	redact func(string) string
}

func newLogger(level string, redact func(string) string) *logger {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	l := &logger{out: log.New(os.Stderr, "netmesh: ", log.LstdFlags), redact: redact}
	for i, name := range logLevels {
		if name == level {
			l.level = i
		}
	}
	return l
}

func (l *logger) logf(level int, prefix, format string, args ...any) {
	if l.level >= level {
		_ = l.out.Output(3, l.redact(prefix+fmt.Sprintf(format, args...)))
	}
}

func (l *logger) Errorf(format string, args ...any) { l.logf(levelError, "error: ", format, args...) }
func (l *logger) Warnf(format string, args ...any)  { l.logf(levelWarn, "warn: ", format, args...) }
func (l *logger) Infof(format string, args ...any)  { l.logf(levelInfo, "", format, args...) }

// recoverLog keeps a panic in a library goroutine from killing the host process.
func recoverLog(l *logger, where string) {
	if r := recover(); r != nil {
		l.Errorf("recovered panic in %s: %v", where, r)
	}
}
