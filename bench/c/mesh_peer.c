/*
 * netmesh through the C ABI, against a nats-server at URL, for the peers
 * benchmark (bench/peers). Setup (mesh_init, streams) is not timed.
 *
 *   mesh_peer pub       URL PREFIX SHARDS EVENTS_FILE   publish in batches of 1000,
 *                                                       each request built in the loop
 *   mesh_peer poll      URL PREFIX SHARDS EXPECTED      read everything with a cursor, limit 1000
 *   mesh_peer emptypoll URL PREFIX SHARDS SECONDS       polls with the cursor at the end
 *
 * Prints {"count":N,"seconds":S}: events, or calls for emptypoll.
 */
#include "common.h"

#include <netmesh.h>

#define BATCH 1000

static uint64_t open_bus(const char *url, const char *prefix, int shards, int create) {
  char cfg[512], *err = NULL;
  uint64_t h = 0;
  snprintf(cfg, sizeof cfg, "{\"url\":\"%s\",\"prefix\":\"%s\",\"shards\":%d,\"log_level\":\"error\"%s}", url, prefix,
           shards, create ? ",\"create_streams\":\"init\"" : "");
  if (mesh_init(cfg, strlen(cfg), &h, &err) != MESH_OK) die("mesh_init(%s): %s", cfg, err);
  return h;
}

/* The response is returned through a heap slot: GCC 12 warns of a dangling
 * pointer (wrongly) when a local's address goes to the library and its value
 * is returned. */
static char *call(uint64_t h, int poll, const char *req, size_t len) {
  char **slot = malloc(sizeof *slot);
  if (!slot) die("out of memory");
  int32_t rc = poll ? mesh_poll(h, req, len, slot) : mesh_publish_batch(h, req, len, slot);
  char *out = *slot;
  free(slot);
  if (rc != MESH_OK) die("%s: %d %s", poll ? "mesh_poll" : "mesh_publish_batch", rc, out ? out : "");
  return out;
}

static void publish(uint64_t h, const char *path) {
  events_t ev = read_events(path, 0);
  char *req = NULL, want[32];
  size_t cap = 0;
  snprintf(want, sizeof want, "\"published\":%d,", BATCH);
  double start = now_s();
  for (size_t from = 0; from < ev.n; from += BATCH) {
    size_t n = ev.n - from < BATCH ? ev.n - from : BATCH;
    size_t len = publish_request(&ev, from, n, &req, &cap);
    char *out = call(h, 0, req, len);
    if (n == BATCH && !strstr(out, want)) die("publish: %s", out);
    mesh_free(out);
  }
  print_result((long)ev.n, now_s() - start);
}

static void poll_all(uint64_t h, long expected) {
  char *req = malloc(64 * 1024);
  long got = 0;
  double start = now_s();
  snprintf(req, 64 * 1024, "{\"limit\":%d,\"start\":\"earliest\"}", BATCH);
  for (;;) {
    char *out = call(h, 1, req, strlen(req));
    got += count_events(out);
    int more = has_more(out);
    char *cursor = next_cursor(out);
    snprintf(req, 64 * 1024, "{\"cursor\":\"%s\",\"limit\":%d}", cursor, BATCH);
    free(cursor);
    mesh_free(out);
    if (!more) break;
  }
  double secs = now_s() - start;
  if (got != expected) die("poll read %ld events, want %ld", got, expected);
  free(req);
  print_result(got, secs);
}

/* One event per shard, then polls whose cursor is at the end: each asks every
 * shard once and finds nothing. */
static void empty_poll(uint64_t h, int shards, double seconds) {
  char req[64];
  for (int k = 0; k < shards; k++) {
    snprintf(req, sizeof req, "{\"events\":[%d],\"shard\":%d}", k, k);
    mesh_free(call(h, 0, req, strlen(req)));
  }
  char *out = call(h, 1, "{\"limit\":10000}", 15);
  if (count_events(out) != shards) die("empty poll setup read %ld events: %.200s", count_events(out), out);
  char *cursor = next_cursor(out);
  mesh_free(out);
  size_t len = strlen(cursor) + 16;
  char *poll = malloc(len);
  len = (size_t)snprintf(poll, len, "{\"cursor\":\"%s\"}", cursor);
  long calls = 0;
  double start = now_s(), t;
  do {
    for (int i = 0; i < 50; i++, calls++) {
      out = call(h, 1, poll, len);
      if (count_events(out) != 0) die("empty poll found events: %.200s", out);
      mesh_free(out);
    }
  } while ((t = now_s()) - start < seconds);
  free(poll);
  free(cursor);
  print_result(calls, t - start);
}

int main(int argc, char **argv) {
  if (argc != 6) die("usage: mesh_peer pub|poll|emptypoll URL PREFIX SHARDS ARG");
  const char *mode = argv[1];
  int shards = atoi(argv[4]);
  uint64_t h = open_bus(argv[2], argv[3], shards, strcmp(mode, "pub") == 0);
  if (strcmp(mode, "pub") == 0)
    publish(h, argv[5]);
  else if (strcmp(mode, "poll") == 0)
    poll_all(h, atol(argv[5]));
  else if (strcmp(mode, "emptypoll") == 0)
    empty_poll(h, shards, atof(argv[5]));
  else
    die("unknown mode %s", mode);
  char *err = NULL;
  if (mesh_shutdown(h, &err) != MESH_OK) die("mesh_shutdown: %s", err);
  return 0;
}
