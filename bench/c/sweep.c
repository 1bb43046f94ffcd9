/*
 * One shard count of the shard sweep (bench/shards, issue 13), through the C
 * ABI against a nats-server at URL:
 *
 *   sweep URL PREFIX SHARDS EVENTS_FILE EMPTY_SECONDS
 *
 * 1. prefix PREFIX_l, streams created lazily: publish every event, 1000 per
 *    request; the first publishes create the streams inside the timing.
 * 2. prefix PREFIX_i: time mesh_init with "create_streams":"init", publish
 *    every event again (the streams exist), read everything back with a cursor
 *    (limit 1000), note the final cursor's size, then poll the idle bus with
 *    that cursor (at the end) for EMPTY_SECONDS.
 *
 * Prints {"count":events,"seconds":publish with streams,"extra":{…}}.
 */
#include "mesh.h"

int main(int argc, char **argv) {
  if (argc != 6) die("usage: sweep URL PREFIX SHARDS EVENTS_FILE EMPTY_SECONDS");
  const char *url = argv[1], *prefix = argv[2];
  int shards = atoi(argv[3]);
  events_t ev = read_events(argv[4], 0);
  double empty_for = atof(argv[5]);
  char name[128];

  snprintf(name, sizeof name, "%s_l", prefix);
  double t0 = now_s();
  uint64_t h = mesh_open(url, name, shards, "");
  double init_lazy = now_s() - t0;
  double pub_lazy = publish_events(h, &ev);
  mesh_close(h);

  snprintf(name, sizeof name, "%s_i", prefix);
  t0 = now_s();
  h = mesh_open(url, name, shards, ",\"create_streams\":\"init\"");
  double init_create = now_s() - t0;
  double pub = publish_events(h, &ev);
  char *cursor;
  double poll = poll_everything(h, (long)ev.n, &cursor);
  double empty_secs;
  long empty_calls = empty_polls(h, cursor, empty_for, &empty_secs);
  mesh_close(h);

  printf("{\"count\":%zu,\"seconds\":%.6f,\"extra\":{\"init_lazy_s\":%.6f,\"publish_lazy_s\":%.6f,"
         "\"init_create_s\":%.6f,\"publish_s\":%.6f,\"poll_s\":%.6f,\"empty_calls\":%ld,\"empty_s\":%.6f,"
         "\"cursor_bytes\":%zu}}\n",
         ev.n, pub, init_lazy, pub_lazy, init_create, pub, poll, empty_calls, empty_secs, strlen(cursor));
  free(cursor);
  return 0;
}
