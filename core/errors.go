package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// CodeInfo is one row of the code table: the C enum name, the string of the
// error object, the mesh_strerror text and what a caller should do about it.
type CodeInfo struct {
	Code        Code
	Enum        string // MESH_OK, MESH_E_*
	Name        string // "code" of the error object
	Description string // mesh_strerror
	Action      string // what a caller does about it (header and docs)
}

// codeTable is the one list of codes: String, Describe, the stats keys, capi's
// mesh_strerror and the header's enum all come from it.
var codeTable = [...]CodeInfo{
	{CodeOK, "MESH_OK", "ok", "success", ""},
	{CodeInvalidArgument, "MESH_E_INVALID_ARGUMENT", "invalid_argument",
		"invalid argument: bad JSON, wrong type, out of range, or NULL with length > 0",
		"fix the request; the message names the field"},
	{CodeInvalidHandle, "MESH_E_INVALID_HANDLE", "invalid_handle",
		"invalid handle: 0, unknown, or already shut down",
		"open a new handle with mesh_init"},
	{CodeConnection, "MESH_E_CONNECTION", "connection",
		"cannot reach or authenticate to the server",
		"check url, credentials and that the server runs JetStream"},
	{CodeTransient, "MESH_E_TRANSIENT", "transient",
		"transient failure (timeout, backpressure, leader change): retry may succeed",
		"retry the same request (with a batch_id a publish is stored once)"},
	{CodeFatal, "MESH_E_FATAL", "fatal",
		"fatal: corrupt record or misconfigured stream",
		"repair the stream, or poll with skip_corrupt to pass a corrupt record"},
	{CodeTooLarge, "MESH_E_TOO_LARGE", "too_large",
		"an event or request is over the size limits",
		"split the batch or shrink the event"},
	{CodeShutdown, "MESH_E_SHUTDOWN", "shutdown",
		"the handle is shutting down",
		"stop using the handle"},
	{CodeInternal, "MESH_E_INTERNAL", "internal",
		"internal error (a bug): a recovered panic",
		"report it with the message"},
}

// Codes returns the code table in enum order.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codeTable[:]...) }

func (c Code) info() (CodeInfo, bool) {
	for _, row := range codeTable {
		if row.Code == c {
			return row, true
		}
	}
	return CodeInfo{}, false
}

// String returns the code's name as it appears in error JSON.
func (c Code) String() string {
	if row, ok := c.info(); ok {
		return row.Name
	}
	return "unknown"
}

// Retryable reports whether repeating the same call may succeed.
func (c Code) Retryable() bool { return c == CodeTransient }

// Describe is the static text behind mesh_strerror.
func (c Code) Describe() string {
	if row, ok := c.info(); ok {
		return row.Description
	}
	return "unknown code"
}

// Error is the one error type the core returns; wrap it with fmt.Errorf("...: %w")
// for context and CodeOf still finds the code.
type meshError struct {
	Code Code
	Msg  string
	Err  error // optional cause
}

func (e *meshError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *meshError) Unwrap() error { return e.Err }

// NewError returns an *Error with a formatted message.
func NewError(code Code, format string, args ...any) error {
	return &meshError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func wrapError(code Code, cause error, format string, args ...any) error {
	return &meshError{Code: code, Msg: fmt.Sprintf(format, args...), Err: cause}
}

var (
	errShutdown = &meshError{Code: CodeShutdown, Msg: "the bus is shut down"}
)

// apiErrorCode classifies a JetStream answer by its HTTP-like status and
// err_code; it is the one place that decides which server answers a retry may cure.
func apiErrorCode(status, errCode int) Code {
	switch {
	case errCode == 10158: // a message with this id is being stored right now
		return CodeTransient
	case errCode == 10054: // message size exceeds maximum allowed
		return CodeTooLarge
	case status == 503 || status == 408 || status == 429:
		return CodeTransient
	case status == 401 || status == 403:
		return CodeConnection
	}
	return CodeFatal
}

// apiErrorJSON is JetStream's {"code":…,"err_code":…,"description":…}.
type apiErrorJSON struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e apiErrorJSON) err() error {
	return NewError(apiErrorCode(e.Code, e.ErrCode), "JetStream: %s (%d/%d)", e.Description, e.Code, e.ErrCode)
}

// decodeAPIError reads the error object of a JetStream reply.
func decodeAPIError(v []byte) error {
	var e apiErrorJSON
	if err := json.Unmarshal(v, &e); err != nil {
		return NewError(CodeTransient, "malformed JetStream error %q", clip(v))
	}
	return e.err()
}

// classifyAPIError gives a failed JetStream API call (stream lookup or creation)
// its code, with what names the call.
func classifyAPIError(what string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		return wrapError(apiErrorCode(apiErr.Code, int(apiErr.ErrorCode)), err, "%s", what)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return wrapError(CodeConnection, err, "%s", what)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return wrapError(CodeTransient, err, "%s: JetStream did not answer", what)
	}
	code := CodeOf(err)
	if code == CodeInternal {
		code = CodeTransient
	}
	return wrapError(code, err, "%s", what)
}

// CodeOf maps any error to exactly one code. It is the only place that does.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *meshError
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
func appendErrorJSON(dst []byte, err error) []byte {
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
func ErrorJSON(err error) []byte { return appendErrorJSON(nil, err) }

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
