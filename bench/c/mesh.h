/*
 * netmesh calls shared by the C ABI benchmark programs (mesh_peer, sweep):
 * open a bus on a URL, publish the events file in 1000-event requests, read
 * everything with a cursor, poll with the cursor at the end.
 */
#ifndef NETMESH_BENCH_MESH_H
#define NETMESH_BENCH_MESH_H

#include "common.h"

#include <netmesh.h>

#define BATCH 1000

/* extra: more config keys, starting with a comma, or "". */
static inline uint64_t mesh_open(const char *url, const char *prefix, int shards, const char *extra) {
  char cfg[512], *err = NULL;
  uint64_t h = 0;
  snprintf(cfg, sizeof cfg, "{\"url\":\"%s\",\"prefix\":\"%s\",\"shards\":%d,\"log_level\":\"error\"%s}", url, prefix,
           shards, extra);
  if (mesh_init(cfg, strlen(cfg), &h, &err) != MESH_OK) die("mesh_init(%s): %s", cfg, err);
  return h;
}

static inline void mesh_close(uint64_t h) {
  char *err = NULL;
  if (mesh_shutdown(h, &err) != MESH_OK) die("mesh_shutdown: %s", err);
}

/* The response comes back through a heap slot: GCC 12 warns of a dangling
 * pointer (wrongly) when a local's address goes to the library and its value
 * is returned. */
static inline char *mesh_call(uint64_t h, int poll, const char *req, size_t len) {
  char **slot = malloc(sizeof *slot);
  if (!slot) die("out of memory");
  int32_t rc = poll ? mesh_poll(h, req, len, slot) : mesh_publish_batch(h, req, len, slot);
  char *out = *slot;
  free(slot);
  if (rc != MESH_OK) die("%s: %d %s", poll ? "mesh_poll" : "mesh_publish_batch", rc, out ? out : "");
  return out;
}

/* Publishes every event, BATCH per request, each request built inside the
 * timing; returns the seconds taken. */
static inline double publish_events(uint64_t h, const events_t *ev) {
  char *req = NULL, want[32];
  size_t cap = 0;
  snprintf(want, sizeof want, "\"published\":%d,", BATCH);
  double start = now_s();
  for (size_t from = 0; from < ev->n; from += BATCH) {
    size_t n = ev->n - from < BATCH ? ev->n - from : BATCH;
    size_t len = publish_request(ev, from, n, &req, &cap);
    char *out = mesh_call(h, 0, req, len);
    if (n == BATCH && !strstr(out, want)) die("publish: %s", out);
    mesh_free(out);
  }
  double secs = now_s() - start;
  free(req);
  return secs;
}

/* Reads everything from the start with limit BATCH until has_more is false;
 * dies unless that is expected events. Returns the seconds taken and, in
 * *cursor, the last next_cursor (to be freed). */
static inline double poll_everything(uint64_t h, long expected, char **cursor) {
  size_t cap = 1024;
  char *req = malloc(cap);
  long got = 0;
  *cursor = NULL;
  double start = now_s();
  snprintf(req, cap, "{\"limit\":%d,\"start\":\"earliest\"}", BATCH);
  for (;;) {
    char *out = mesh_call(h, 1, req, strlen(req));
    got += count_events(out);
    int more = has_more(out);
    free(*cursor);
    *cursor = next_cursor(out);
    mesh_free(out);
    if (!more) break;
    if (strlen(*cursor) + 64 > cap) {
      cap = strlen(*cursor) + 64;
      req = realloc(req, cap);
    }
    snprintf(req, cap, "{\"cursor\":\"%s\",\"limit\":%d}", *cursor, BATCH);
  }
  double secs = now_s() - start;
  if (got != expected) die("poll read %ld events, want %ld", got, expected);
  free(req);
  return secs;
}

/* Polls with cursor (at the end) for about seconds, at least 10 calls; each
 * call must find nothing. Returns the calls made and, in *secs, the time. */
static inline long empty_polls(uint64_t h, const char *cursor, double seconds, double *secs) {
  size_t len = strlen(cursor) + 16;
  char *poll = malloc(len);
  len = (size_t)snprintf(poll, len, "{\"cursor\":\"%s\"}", cursor);
  long calls = 0;
  double start = now_s(), t;
  do {
    for (int i = 0; i < 10; i++, calls++) {
      char *out = mesh_call(h, 1, poll, len);
      if (count_events(out) != 0) die("empty poll found events: %.200s", out);
      mesh_free(out);
    }
  } while ((t = now_s()) - start < seconds);
  free(poll);
  *secs = t - start;
  return calls;
}

#endif
