package main

/*
#include <stdint.h>
*/
import "C"

import (
	"github.com/netmesh/netmesh/core"
)

// Each export is a thin translation: look up the handle, copy the request into Go
// memory, call core, copy the response (or the error object) into C memory.
//
// The doc comment above each //export line is the function's C contract:
// `go generate ./capi` (internal/headergen) copies it, with a prototype derived
// from the Go signature, into include/netmesh.h. Write it for C callers.

func invalidHandle(h C.uint64_t) error {
	return core.NewError(core.CodeInvalidHandle, "handle %d is not open (0, unknown, or already shut down)", uint64(h))
}

// call runs one request-taking core method for mesh_publish_batch and mesh_poll.
func call(handle C.uint64_t, request *C.char, requestLen C.size_t, responseOut **C.char,
	what string, method func(*core.Bus, []byte) ([]byte, error)) C.int32_t {
	clearOut(responseOut)
	bus, ok := handles.get(uint64(handle))
	if !ok {
		return fail(responseOut, invalidHandle(handle))
	}
	req, err := goBytes(request, requestLen, what)
	if err != nil {
		return fail(responseOut, err)
	}
	resp, err := offload(bus, req, method)
	if err != nil {
		return fail(responseOut, err)
	}
	setOut(responseOut, resp)
	return C.int32_t(core.CodeOK)
}

// offload runs a core call on a goroutine of its own. The goroutine of a C
// caller is locked to the caller's thread, so each wait inside core (for acks,
// for the network) would put that OS thread to sleep and wake it again; on an
// ordinary goroutine a wait parks only the goroutine, and the caller's thread
// sleeps once, until the result is ready. A panic there becomes MESH_E_INTERNAL
// too.
func offload(bus *core.Bus, req []byte, method func(*core.Bus, []byte) ([]byte, error)) ([]byte, error) {
	type result struct {
		resp []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: core.NewError(core.CodeInternal, "internal error (recovered panic): %v", p)}
			}
			ch <- r
		}()
		r.resp, r.err = method(bus, req)
	}()
	r := <-ch
	return r.resp, r.err
}

// mesh_init opens a bus: connects to the configured server, or starts (or
// shares) the embedded one, and returns a handle for the other calls.
//
//   - config, config_len: the JSON configuration (docs/reference.md, "Config"),
//     config_len bytes of UTF-8, no NUL terminator needed. NULL with
//     config_len 0, or an empty config, means "{}": the embedded server in
//     ./netmesh-data. NULL with config_len > 0 is MESH_E_INVALID_ARGUMENT.
//     The caller keeps ownership: the library copies it and keeps no
//     reference after the call.
//   - handle_out: must not be NULL. Receives the new handle, or 0 on failure.
//     The handle is valid until mesh_shutdown() and is never 0.
//   - error_out: set to NULL on entry. On failure it receives the error object
//     (docs/reference.md, "Errors"), which the caller owns and releases with
//     mesh_free(); on success it stays NULL. May be NULL: the caller does not
//     want the error object.
//
// Returns MESH_OK; MESH_E_INVALID_ARGUMENT (bad config, NULL handle_out, NULL
// config with config_len > 0, embedded settings that differ from the running
// server on the same store_dir, a store_dir in use by another process);
// MESH_E_TOO_LARGE (config_len over the largest max_request_bytes);
// MESH_E_CONNECTION (server unreachable or authentication refused);
// MESH_E_TRANSIENT; MESH_E_FATAL; MESH_E_INTERNAL.
//
// Thread-safe. Blocks while it connects (up to connect_timeout_ms) or starts the
// embedded server. Every handle must be released with mesh_shutdown().
//
//export mesh_init
func mesh_init(config *C.char, config_len C.size_t, handle_out *C.uint64_t, error_out **C.char) (rc C.int32_t) {
	defer guard(&rc, error_out)
	clearOut(error_out)
	if handle_out == nil {
		return fail(error_out, core.NewError(core.CodeInvalidArgument, "handle_out is NULL"))
	}
	*handle_out = 0
	cfg, err := goBytes(config, config_len, "config")
	if err != nil {
		return fail(error_out, err)
	}
	bus, err := core.Open(cfg)
	if err != nil {
		return fail(error_out, err)
	}
	*handle_out = C.uint64_t(handles.add(bus))
	return C.int32_t(core.CodeOK)
}

// mesh_publish_batch stores a batch of events and returns once every event is
// acknowledged by the server.
//
//   - handle: a handle from mesh_init().
//   - request, request_len: the publish request (docs/reference.md, "Publish"),
//     request_len bytes of UTF-8 JSON, no NUL terminator needed:
//     {"events":[...], "shard":k?, "batch_id":"..."?, "timeout_ms":n?,
//     "acks":false}. NULL with request_len 0 means "{}" (which has no events:
//     MESH_E_INVALID_ARGUMENT). The caller keeps ownership: the library copies
//     it and keeps no reference after the call.
//   - response_out: set to NULL on entry. On success it receives
//     {"published":n,"duplicates":d,"acks":[...]?}; on failure the error
//     object (docs/reference.md, "Errors"). The caller owns it and releases it
//     with mesh_free(). May be NULL: the call still publishes and returns its
//     code.
//
// Returns MESH_OK; MESH_E_INVALID_ARGUMENT (bad request, a null or invalid
// event, bad batch_id: nothing is stored); MESH_E_TOO_LARGE (an event or the
// request over the limits: nothing is stored); MESH_E_INVALID_HANDLE;
// MESH_E_TRANSIENT (retry the same request; with a batch_id it is stored
// exactly once); MESH_E_CONNECTION; MESH_E_FATAL; MESH_E_SHUTDOWN;
// MESH_E_INTERNAL.
//
// Thread-safe, also concurrently on one handle. Blocks up to about timeout_ms
// (request_timeout_ms of the config by default).
//
//export mesh_publish_batch
func mesh_publish_batch(handle C.uint64_t, request *C.char, request_len C.size_t, response_out **C.char) (rc C.int32_t) {
	defer guard(&rc, response_out)
	return call(handle, request, request_len, response_out, "publish request", (*core.Bus).Publish)
}

// mesh_poll reads the events after a cursor.
//
//   - handle: a handle from mesh_init().
//   - request, request_len: the poll request (docs/reference.md, "Poll"),
//     request_len bytes of UTF-8 JSON, no NUL terminator needed:
//     {"limit":100, "cursor":"..."?, "shard":k?, "start":"earliest"|"latest",
//     "wait_ms":0, "skip_corrupt":false, "timeout_ms":n?}, or for a consumer
//     group {"group":"...", "member":"..."?, "auto_commit":false, ...} with no
//     cursor or shard (docs/reference.md, "Groups"). NULL with request_len 0
//     means "{}": up to 100 events from the start of every shard. The caller
//     keeps ownership: the library copies it and keeps no reference after the
//     call.
//   - response_out: set to NULL on entry. On success it receives
//     {"events":[{"id":"<seq>","shard":k,"ts":"<ns>","raw":<event>}],
//     "next_cursor":"...", "has_more":bool, "skipped":n} (with a group also
//     "assigned":[k,...], and next_cursor is what mesh_commit() takes); on
//     failure the error object (docs/reference.md, "Errors"). The caller owns
//     it and releases it with mesh_free(). May be NULL: the call still reads
//     and returns its code.
//
// Returns MESH_OK; MESH_E_INVALID_ARGUMENT (bad request or cursor);
// MESH_E_TOO_LARGE; MESH_E_INVALID_HANDLE; MESH_E_TRANSIENT;
// MESH_E_CONNECTION; MESH_E_FATAL (a corrupt record, unless
// "skip_corrupt":true); MESH_E_SHUTDOWN; MESH_E_INTERNAL.
//
// Thread-safe, also concurrently on one handle. Blocks up to about wait_ms +
// timeout_ms; mesh_shutdown() of the handle ends the wait at once.
//
//export mesh_poll
func mesh_poll(handle C.uint64_t, request *C.char, request_len C.size_t, response_out **C.char) (rc C.int32_t) {
	defer guard(&rc, response_out)
	return call(handle, request, request_len, response_out, "poll request", (*core.Bus).Poll)
}

// mesh_commit stores a consumer group's positions: those of a group poll's
// next_cursor, for the shards this member of the group still holds. A shard
// that has moved to another member since is never written (a paused member
// can never move a position backwards or overwrite the new owner's).
//
//   - handle: a handle from mesh_init() that polled the group.
//   - request, request_len: {"group":"...", "cursor":"<next_cursor of this
//     member's group poll>", "timeout_ms":n?} (docs/reference.md, "Groups"),
//     request_len bytes of UTF-8 JSON, no NUL terminator needed. The caller
//     keeps ownership: the library copies it and keeps no reference after the
//     call.
//   - response_out: set to NULL on entry. On success it receives
//     {"committed":[k,...],"revoked":[k,...]}; on failure the error object
//     (docs/reference.md, "Errors"). The caller owns it and releases it with
//     mesh_free(). May be NULL.
//
// Returns MESH_OK; MESH_E_INVALID_ARGUMENT (bad request, a cursor of another
// group or member or of a plain poll, a group this handle has not polled:
// nothing is stored); MESH_E_TOO_LARGE; MESH_E_INVALID_HANDLE;
// MESH_E_TRANSIENT (retry the same request); MESH_E_CONNECTION;
// MESH_E_FATAL; MESH_E_SHUTDOWN; MESH_E_INTERNAL.
//
// Thread-safe, also concurrently on one handle. Blocks up to about timeout_ms.
//
//export mesh_commit
func mesh_commit(handle C.uint64_t, request *C.char, request_len C.size_t, response_out **C.char) (rc C.int32_t) {
	defer guard(&rc, response_out)
	return call(handle, request, request_len, response_out, "commit request", (*core.Bus).Commit)
}

// mesh_stats returns the counters and health of a handle as JSON.
//
//   - handle: a handle from mesh_init().
//   - response_out: set to NULL on entry. On success it receives the stats
//     object (docs/reference.md, "Stats"); on failure the error object
//     (docs/reference.md, "Errors"). The caller owns it and releases it with
//     mesh_free(). May be NULL.
//
// Returns MESH_OK; MESH_E_INVALID_HANDLE; MESH_E_SHUTDOWN; MESH_E_INTERNAL.
//
// Thread-safe, also concurrently on one handle. Does not wait for the server.
//
//export mesh_stats
func mesh_stats(handle C.uint64_t, response_out **C.char) (rc C.int32_t) {
	defer guard(&rc, response_out)
	clearOut(response_out)
	bus, ok := handles.get(uint64(handle))
	if !ok {
		return fail(response_out, invalidHandle(handle))
	}
	resp, err := bus.Stats()
	if err != nil {
		return fail(response_out, err)
	}
	setOut(response_out, resp)
	return C.int32_t(core.CodeOK)
}

// mesh_shutdown closes a handle. It invalidates the handle first, then waits a
// bounded time for the calls still running on it, closes the connection and
// releases the embedded server when its last user goes. Calls racing it on
// other threads end with MESH_E_SHUTDOWN, or MESH_E_INVALID_HANDLE once the
// handle is gone.
//
//   - handle: a handle from mesh_init(); invalid after the call, whatever it
//     returns.
//   - error_out: set to NULL on entry. On failure it receives the error object
//     (docs/reference.md, "Errors"), which the caller owns and releases with
//     mesh_free(); on success it stays NULL. May be NULL.
//
// Returns MESH_OK; MESH_E_INVALID_HANDLE (0, unknown, or already shut down: a
// second shutdown); MESH_E_TRANSIENT (calls were still running when the wait
// timed out; everything is released anyway and the handle is invalid);
// MESH_E_INTERNAL.
//
// Thread-safe: of several shutdowns of one handle, exactly one closes it.
//
//export mesh_shutdown
func mesh_shutdown(handle C.uint64_t, error_out **C.char) (rc C.int32_t) {
	defer guard(&rc, error_out)
	clearOut(error_out)
	// The handle leaves the table before the bus closes, so calls that already
	// hold the bus end with core's shutdown error and later ones, like a second
	// shutdown, find an invalid handle.
	bus, ok := handles.remove(uint64(handle))
	if !ok {
		return fail(error_out, invalidHandle(handle))
	}
	if err := bus.Close(); err != nil {
		return fail(error_out, err)
	}
	return C.int32_t(core.CodeOK)
}

// free.c defines mesh_free; headergen takes its doc and prototype from the //netmesh:c block below.

// mesh_free releases a string the library returned through a ..._out
// parameter.
//
//   - ptr: a string from a ..._out parameter, or NULL (a no-op). The caller
//     gives up ownership: ptr is invalid after the call. Never pass it
//     anything else: not mesh_version() or mesh_strerror(), not memory from
//     another allocator, not a string twice.
//
// Thread-safe. It never enters the Go runtime (it is free()), so it is cheap
// from any thread, an event loop's included.
//
//netmesh:c void mesh_free(char *ptr)

// mesh_version returns the version of the library, such as "1.2.3".
//
// The string is static: the caller must not free or modify it (never pass it
// to mesh_free()). Never NULL, never fails; thread-safe.
//
//export mesh_version
func mesh_version() (s *C.char) {
	s = versionC
	defer quiet()
	return s
}

// mesh_abi_version returns the ABI version of the library: NETMESH_ABI_VERSION
// for a library that matches this header. Compare the two at run time to
// detect a library built for another ABI.
//
// Never fails; thread-safe.
//
//export mesh_abi_version
func mesh_abi_version() C.uint32_t {
	defer quiet()
	return C.uint32_t(core.ABIVersion)
}

// mesh_strerror returns a static English description of a result code.
//
//   - code: MESH_OK or one of the MESH_E_* codes; any other value gives
//     "unknown code".
//
// The string is static: the caller must not free or modify it (never pass it
// to mesh_free()). Never NULL, never fails; thread-safe.
//
//export mesh_strerror
func mesh_strerror(code C.int32_t) (s *C.char) {
	s = unknownCodeC
	defer quiet()
	if d, ok := describeByCode[core.Code(code)]; ok {
		s = d
	}
	return s
}
