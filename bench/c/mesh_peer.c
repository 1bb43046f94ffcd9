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
#include "mesh.h"

/* One event per shard, then polls whose cursor is at the end: each asks every
 * shard once and finds nothing. */
static void empty_poll(uint64_t h, int shards, double seconds) {
  char req[64];
  for (int k = 0; k < shards; k++) {
    snprintf(req, sizeof req, "{\"events\":[%d],\"shard\":%d}", k, k);
    mesh_free(mesh_call(h, 0, req, strlen(req)));
  }
  char *out = mesh_call(h, 1, "{\"limit\":10000}", 15);
  if (count_events(out) != shards) die("empty poll setup read %ld events: %.200s", count_events(out), out);
  char *cursor = next_cursor(out);
  mesh_free(out);
  double secs;
  long calls = empty_polls(h, cursor, seconds, &secs);
  free(cursor);
  print_result(calls, secs);
}

int main(int argc, char **argv) {
  if (argc != 6) die("usage: mesh_peer pub|poll|emptypoll URL PREFIX SHARDS ARG");
  const char *mode = argv[1];
  int shards = atoi(argv[4]);
  int pub = strcmp(mode, "pub") == 0;
  uint64_t h = mesh_open(argv[2], argv[3], shards, pub ? ",\"create_streams\":\"init\"" : "");
  if (pub) {
    events_t ev = read_events(argv[5], 0);
    print_result((long)ev.n, publish_events(h, &ev));
  } else if (strcmp(mode, "poll") == 0) {
    char *cursor;
    double secs = poll_everything(h, atol(argv[5]), &cursor);
    free(cursor);
    print_result(atol(argv[5]), secs);
  } else if (strcmp(mode, "emptypoll") == 0) {
    empty_poll(h, shards, atof(argv[5]));
  } else {
    die("unknown mode %s", mode);
  }
  mesh_close(h);
  return 0;
}
