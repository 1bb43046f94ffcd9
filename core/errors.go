package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// Code is the result class of a call; the values are the C ABI's MESH_* codes.
type Code int32

const (
	CodeOK              Code = 0
	CodeInvalidArgument Code = -1
	CodeInvalidHandle   Code = -2
	CodeConnection      Code = -3
	CodeTransient       Code = -4
	CodeFatal           Code = -5
	CodeTooLarge        Code = -6
	CodeShutdown        Code = -7
	CodeInternal        Code = -99
)

// String returns the code's name as it appears in error JSON.
func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeInvalidArgument:
		return "invalid_argument"
	case CodeInvalidHandle:
		return "invalid_handle"
	case CodeConnection:
		return "connection"
	case CodeTransient:
		return "transient"
	case CodeFatal:
		return "fatal"
	case CodeTooLarge:
		return "too_large"
	case CodeShutdown:
		return "shutdown"
	case CodeInternal:
		return "internal"
	}
	return "unknown"
}

// Retryable reports whether repeating the same call may succeed.
func (c Code) Retryable() bool { return c == CodeTransient }

// Describe is the static text behind mesh_strerror.
func (c Code) Describe() string {
	switch c {
	case CodeOK:
		return "success"
	case CodeInvalidArgument:
		return "invalid argument: bad JSON, wrong type, out of range, or NULL with length > 0"
	case CodeInvalidHandle:
		return "invalid handle: 0, unknown, or already shut down"
	case CodeConnection:
		return "cannot reach or authenticate to the server"
	case CodeTransient:
		return "transient failure (timeout, backpressure, leader change): retry may succeed"
	case CodeFatal:
		return "fatal: corrupt record or misconfigured stream"
	case CodeTooLarge:
		return "an event or request is over the size limits"
	case CodeShutdown:
		return "the handle is shutting down"
	case CodeInternal:
		return "internal error (a bug): a recovered panic"
	}
	return "unknown code"
}

// Error is the one error type the core returns; wrap it with fmt.Errorf("...: %w")
// for context and CodeOf still finds the code.
type Error struct {
	Code Code
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// NewError returns an *Error with a formatted message.
func NewError(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func wrapError(code Code, cause error, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: cause}
}

var (
	errShutdown = &Error{Code: CodeShutdown, Msg: "the bus is shut down"}
)

// CodeOf maps any error to exactly one code. It is the only place that does.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrSlowConsumer),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrReconnectBufExceeded):
		return CodeTransient
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrDrainTimeout), errors.Is(err, context.Canceled):
		return CodeShutdown
	case errors.Is(err, nats.ErrMaxPayload):
		return CodeTooLarge
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return CodeConnection
	}
	return CodeInternal
}

// AppendErrorJSON appends {"error":{"code":…,"message":…,"retryable":…}}.
func AppendErrorJSON(dst []byte, err error) []byte {
	code := CodeOf(err)
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	dst = append(dst, `{"error":{"code":"`...)
	dst = append(dst, code.String()...)
	dst = append(dst, `","message":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"retryable":`...)
	dst = strconv.AppendBool(dst, code.Retryable())
	return append(dst, "}}"...)
}

// ErrorJSON returns the error object of err as JSON bytes.
func ErrorJSON(err error) []byte { return AppendErrorJSON(nil, err) }

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD so the
// output is always valid.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
