/*
 * The C benchmark of libnetmesh (make bench-c): what a C caller gets through the
 * ABI, on the embedded server.
 *
 *   bench [DATA_DIR]     (default build/bench-c-data)
 *
 * - calls/s of mesh_stats(0): an invalid handle, i.e. the bare cost of a call
 *   through cgo, a table look-up and an error object;
 * - calls/s of an empty mesh_poll, on 1 shard and on the default 16 shards;
 * - events/s of mesh_publish_batch with 1000-event batches of ~200-byte events,
 *   on file storage (the default) and on memory storage.
 */
#include "check.h"

#define SECONDS 2.0
#define BATCH 1000
#define EVENT_BYTES 200

static const char *data_dir = "build/bench-c-data";
static int store_seq;

/* memory: memory storage; shards: the shard count. */
static uint64_t open_bus(int memory, int shards) {
  char cfg[512], *err = NULL;
  uint64_t h = 0;
  snprintf(cfg, sizeof cfg, "{\"embedded\":{\"store_dir\":\"%s/%d\"%s},\"shards\":%d}", data_dir, ++store_seq,
           memory ? ",\"memory\":true" : "", shards);
  if (mesh_init(cfg, strlen(cfg), &h, &err) != MESH_OK) {
    fprintf(stderr, "mesh_init(%s): %s\n", cfg, err);
    exit(1);
  }
  return h;
}

static void close_bus(uint64_t h) {
  char *err = NULL;
  if (mesh_shutdown(h, &err) != MESH_OK) fprintf(stderr, "mesh_shutdown: %s\n", err);
  mesh_free(err);
}

/* Puts one event on every shard, then returns a poll request whose cursor is
 * at the end: each such poll asks every shard once and finds nothing. */
static char *end_of_bus_request(uint64_t h, int shards) {
  char req[64], *out = NULL;
  for (int k = 0; k < shards; k++) {
    snprintf(req, sizeof req, "{\"events\":[%d],\"shard\":%d}", k, k);
    if (mesh_publish_batch(h, req, strlen(req), &out) != MESH_OK) {
      fprintf(stderr, "publish: %s\n", out);
      exit(1);
    }
    mesh_free(out);
  }
  if (mesh_poll(h, "{\"limit\":100}", 13, &out) != MESH_OK) {
    fprintf(stderr, "poll: %s\n", out);
    exit(1);
  }
  const char *key = "\"next_cursor\":\"";
  char *c = strstr(out, key);
  char *end = c ? strchr(c + strlen(key), '"') : NULL;
  if (!end) {
    fprintf(stderr, "no next_cursor in %s\n", out);
    exit(1);
  }
  c += strlen(key);
  size_t n = (size_t)(end - c);
  char *poll = malloc(n + 16);
  snprintf(poll, n + 16, "{\"cursor\":\"%.*s\"}", (int)n, c);
  mesh_free(out);
  return poll;
}

/* Calls mesh_poll with req for about SECONDS; returns calls per second. */
static double poll_rate(uint64_t h, const char *req, int32_t want) {
  size_t len = strlen(req);
  long n = 0;
  double start = now_s(), end = start + SECONDS, t;
  do {
    for (int i = 0; i < 100; i++, n++) {
      char *out = NULL;
      int32_t rc = h ? mesh_poll(h, req, len, &out) : mesh_stats(0, &out);
      if (rc != want) {
        fprintf(stderr, "unexpected %d: %s\n", rc, out);
        exit(1);
      }
      mesh_free(out);
    }
  } while ((t = now_s()) < end);
  return (double)n / (t - start);
}

/* Publishes 1000-event batches for about SECONDS; returns events per second. */
static double publish_rate(uint64_t h, double *mb_per_s) {
  size_t cap = (size_t)BATCH * (EVENT_BYTES + 8) + 64;
  char *req = malloc(cap);
  long events = 0, bytes = 0;
  double start = now_s(), t;
  do {
    size_t len = (size_t)snprintf(req, cap, "{\"events\":[");
    for (int i = 0; i < BATCH; i++) {
      int n = snprintf(req + len, cap - len, "%s{\"seq\":%ld,\"type\":\"order.created\",\"user\":\"user-%ld\",\"amount\":%ld.25,\"note\":\"",
                       i ? "," : "", events + i, (events + i) % 977, (events + i) % 10000);
      len += (size_t)n;
      while (n < EVENT_BYTES - 3) req[len++] = 'x', n++; /* pad the event to ~200 bytes */
      len += (size_t)snprintf(req + len, cap - len, "\"}");
    }
    len += (size_t)snprintf(req + len, cap - len, "]}");
    char *out = NULL;
    int32_t rc = mesh_publish_batch(h, req, len, &out);
    if (rc != MESH_OK || json_int(out, "published", -1) != BATCH) {
      fprintf(stderr, "publish %d: %s\n", rc, out);
      exit(1);
    }
    mesh_free(out);
    events += BATCH;
    bytes += (long)len;
  } while ((t = now_s()) < start + SECONDS);
  free(req);
  *mb_per_s = (double)bytes / (t - start) / 1e6;
  return (double)events / (t - start);
}

int main(int argc, char **argv) {
  if (argc > 1) data_dir = argv[1];
  printf("libnetmesh %s C benchmark, embedded server, %.0f s per figure\n", mesh_version(), SECONDS);

  printf("  %-62s %9.0f calls/s\n", "mesh_stats(0): invalid handle, the bare cost of a call",
         poll_rate(0, "", MESH_E_INVALID_HANDLE));
  for (int shards = 1; shards <= 16; shards += 15) {
    uint64_t h = open_bus(1, shards);
    char what[80];
    snprintf(what, sizeof what, "mesh_poll at the end, %d shard%s", shards, shards > 1 ? "s (one get per shard)" : "");
    char *req = end_of_bus_request(h, shards);
    printf("  %-62s %9.0f calls/s\n", what, poll_rate(h, req, MESH_OK));
    free(req);
    close_bus(h);
  }
  for (int memory = 0; memory <= 1; memory++) {
    uint64_t h = open_bus(memory, 16);
    double mb, rate = publish_rate(h, &mb);
    char what[80];
    snprintf(what, sizeof what, "mesh_publish_batch, %d x %d-byte events, 16 shards, %s", BATCH, EVENT_BYTES,
             memory ? "memory" : "file");
    printf("  %-62s %9.0f events/s (%.1f MB/s)\n", what, rate, mb);
    close_bus(h);
  }
  return 0;
}
