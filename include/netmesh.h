/*
** netmesh.h: the C interface of libnetmesh, a JSON event bus over NATS JetStream.
**
** This header is written by hand and is the public contract (docs: DESIGN.md,
** "C ABI" and "JSON shapes"). `make check-header` proves that it declares exactly
** the functions libnetmesh.so exports, with the same types.
**
** The model, in short:
**
**   uint64_t h;
**   char *err = NULL;
**   if (mesh_init("{}", 2, &h, &err) != MESH_OK) { fprintf(stderr, "%s\n", err); }
**   mesh_free(err);
**
** - Requests and responses are UTF-8 JSON. A request is given as a pointer and a
**   length (no NUL terminator needed); NULL with length 0, or an empty request,
**   means "{}". NULL with a length > 0 is MESH_E_INVALID_ARGUMENT.
** - Every function returns a code: MESH_OK (0) or one of the negative MESH_E_*
**   codes below. Each code maps to a "code" string in the error object.
** - Strings returned through a `char **..._out` parameter are allocated by the
**   library and must be released with mesh_free(). On success they hold the
**   response; on failure the error object
**       {"error":{"code":"invalid_argument","message":"...","retryable":false}}
**   whose "retryable" is true for MESH_E_TRANSIENT only. The library sets
**   `*..._out` to NULL on entry, so mesh_free() of it is always safe afterwards.
**   A NULL `..._out` pointer means the caller does not want the string; the call
**   still does its work and returns its code.
** - Handles are integers from a table, never pointers: 0 is never a valid handle,
**   and a stale, random or shut-down handle answers MESH_E_INVALID_HANDLE.
** - Thread safety: every function may be called from any thread, concurrently,
**   including on one handle.
** - Panics inside the library are recovered and answered with MESH_E_INTERNAL.
**   The library installs no handler with signal.Notify; the embedded server runs
**   without signal handling, so the host keeps its signals.
** - Nothing the library returns points into Go memory.
*/
#ifndef NETMESH_H
#define NETMESH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
** The ABI version this header describes. Compare it with mesh_abi_version() at
** run time to detect a library built for another ABI.
*/
#define NETMESH_ABI_VERSION 1

/*
** Result codes. The string in parentheses is the "code" of the error object.
*/
enum {
  MESH_OK = 0,                  /* success */
  MESH_E_INVALID_ARGUMENT = -1, /* ("invalid_argument") bad JSON, wrong type, out of range, NULL with len > 0 */
  MESH_E_INVALID_HANDLE   = -2, /* ("invalid_handle") 0, unknown, or already shut down */
  MESH_E_CONNECTION       = -3, /* ("connection") cannot reach or authenticate to the server */
  MESH_E_TRANSIENT        = -4, /* ("transient") timeout, backpressure, leader change: retry may succeed */
  MESH_E_FATAL            = -5, /* ("fatal") structural: corrupt record, stream misconfigured */
  MESH_E_TOO_LARGE        = -6, /* ("too_large") an event or request over the size limits */
  MESH_E_SHUTDOWN         = -7, /* ("shutdown") the handle is shutting down */
  MESH_E_INTERNAL         = -99 /* ("internal") a bug: a recovered panic */
};

/*
** mesh_init: open a bus.
**
** config, config_len: the JSON configuration (see DESIGN.md "Config"); NULL with
**   length 0 means "{}": the embedded server in ./netmesh-data. The library copies
**   it and keeps no reference after the call.
** handle_out: receives the new handle (set to 0 on failure). Must not be NULL.
** error_out: on failure, receives the error object; on success, NULL. Free it
**   with mesh_free(). May be NULL.
**
** Returns MESH_OK; MESH_E_INVALID_ARGUMENT (bad config, NULL handle_out, NULL
** config with config_len > 0, embedded settings that differ from the running
** server on the same store_dir); MESH_E_TOO_LARGE; MESH_E_CONNECTION (server
** unreachable or authentication refused); MESH_E_TRANSIENT; MESH_E_FATAL;
** MESH_E_INTERNAL. Release the handle with mesh_shutdown().
*/
int32_t mesh_init(const char *config, size_t config_len, uint64_t *handle_out, char **error_out);

/*
** mesh_publish_batch: store a batch of events.
**
** request, request_len: {"events":[...], "shard":k?, "batch_id":"..."?,
**   "timeout_ms":n?, "acks":false}. Copied; no reference is kept.
** response_out: on success {"published":n,"duplicates":d,"acks":[...]?}; on
**   failure the error object. Free it with mesh_free(). May be NULL.
**
** Returns after every event is acknowledged. MESH_OK; MESH_E_INVALID_ARGUMENT
** (bad request, a null or invalid event, bad batch_id: nothing is stored);
** MESH_E_TOO_LARGE (an event or the request over the limits: nothing is stored);
** MESH_E_INVALID_HANDLE; MESH_E_TRANSIENT (retry the same request; with a
** batch_id it is stored exactly once); MESH_E_CONNECTION; MESH_E_FATAL;
** MESH_E_SHUTDOWN; MESH_E_INTERNAL.
*/
int32_t mesh_publish_batch(uint64_t handle, const char *request, size_t request_len, char **response_out);

/*
** mesh_poll: read events after a cursor.
**
** request, request_len: {"limit":100, "cursor":"..."?, "shard":k?,
**   "start":"earliest"|"latest", "wait_ms":0, "skip_corrupt":false,
**   "timeout_ms":n?}. Copied; no reference is kept.
** response_out: on success {"events":[{"id":"<seq>","shard":k,"ts":"<ns>",
**   "raw":<event>}], "next_cursor":"...", "has_more":bool, "skipped":n}; on
**   failure the error object. Free it with mesh_free(). May be NULL.
**
** Blocks up to about wait_ms + timeout_ms. MESH_OK; MESH_E_INVALID_ARGUMENT
** (bad request or cursor); MESH_E_TOO_LARGE; MESH_E_INVALID_HANDLE;
** MESH_E_TRANSIENT; MESH_E_CONNECTION; MESH_E_FATAL (a corrupt record, unless
** "skip_corrupt":true); MESH_E_SHUTDOWN; MESH_E_INTERNAL.
*/
int32_t mesh_poll(uint64_t handle, const char *request, size_t request_len, char **response_out);

/*
** mesh_stats: counters and health of a handle, as JSON.
**
** response_out: on success the stats object; on failure the error object. Free
** it with mesh_free(). May be NULL.
**
** MESH_OK; MESH_E_INVALID_HANDLE; MESH_E_SHUTDOWN; MESH_E_INTERNAL.
*/
int32_t mesh_stats(uint64_t handle, char **response_out);

/*
** mesh_shutdown: close a handle.
**
** Invalidates the handle first, then drains with a bounded timeout and releases
** the embedded server when its last user goes. Calls racing it on other threads
** end with MESH_E_SHUTDOWN (or MESH_E_INVALID_HANDLE once it is gone).
** error_out: on failure, the error object; on success, NULL. Free it with
**   mesh_free(). May be NULL.
**
** MESH_OK; MESH_E_INVALID_HANDLE (0, unknown, or already shut down: a second
** shutdown); MESH_E_TRANSIENT (the drain timed out; everything is released
** anyway and the handle is invalid); MESH_E_INTERNAL.
*/
int32_t mesh_shutdown(uint64_t handle, char **error_out);

/*
** mesh_free: release a string returned through a `..._out` parameter.
** NULL is a no-op. Never pass it anything else (not mesh_version() or
** mesh_strerror()). Thread-safe. Plain C (free()): it never enters the Go
** runtime, so it is cheap from any thread, an event loop's included.
*/
void mesh_free(char *ptr);

/*
** mesh_version: the library version, e.g. "0.1.0". Static: never freed.
*/
const char *mesh_version(void);

/*
** mesh_abi_version: the ABI version of the library; NETMESH_ABI_VERSION for a
** library that matches this header.
*/
uint32_t mesh_abi_version(void);

/*
** mesh_strerror: a static English description of a code; for an unknown code,
** "unknown code". Static: never freed.
*/
const char *mesh_strerror(int32_t code);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NETMESH_H */
