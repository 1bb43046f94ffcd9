/*
 * mesh_publish_batch against nats.c's js_PublishMsgAsync, interleaved on one
 * server: the embedded server of a netmesh bus, listening on 127.0.0.1.
 *
 *   cc -std=c11 -O2 -Iinclude tests/c/bench_natsc.c -o build/c/bench_natsc \
 *      -Lbuild -lnetmesh -Wl,-rpath,$PWD/build -lnats -lpthread
 *   build/c/bench_natsc DATA_DIR [ROUNDS] [memory|file] [SHARDS]
 *
 * Each round publishes one 1000-event request (200-byte events) through
 * mesh_publish_batch (in-process, as the embedded default does), then 1000
 * messages of the same size with js_PublishMsgAsync over TCP, each with a
 * Nats-Msg-Id, to one stream configured as netmesh's, and waits with
 * js_PublishAsyncComplete. Both are timed apart; the ratio is netmesh/nats.c.
 */
#include "check.h"

#include <nats/nats.h>

#define BATCH 1000
#define EVENT_BYTES 200

static void die(const char *what, const char *detail) {
  fprintf(stderr, "%s: %s\n", what, detail ? detail : "");
  exit(1);
}

static char *build_request(long first, char events[BATCH][EVENT_BYTES + 1]) {
  size_t cap = (size_t)BATCH * (EVENT_BYTES + 2) + 64, len = 0;
  char *req = malloc(cap);
  len += (size_t)snprintf(req, cap, "{\"events\":[");
  for (int i = 0; i < BATCH; i++) {
    int n = snprintf(events[i], EVENT_BYTES + 1, "{\"seq\":%ld,\"type\":\"order.created\",\"user\":\"user-%ld\",\"note\":\"",
                     first + i, (first + i) % 977);
    while (n < EVENT_BYTES - 2) events[i][n++] = 'x';
    events[i][n++] = '"', events[i][n++] = '}', events[i][n] = 0;
    len += (size_t)snprintf(req + len, cap - len, "%s%s", i ? "," : "", events[i]);
  }
  snprintf(req + len, cap - len, "]}");
  return req;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "build/bench-natsc-data";
  int rounds = argc > 2 ? atoi(argv[2]) : 200;
  int memory = argc > 3 && strcmp(argv[3], "memory") == 0;
  int shards = argc > 4 ? atoi(argv[4]) : 16;
  char cfg[512], *out = NULL;
  uint64_t h = 0;
  snprintf(cfg, sizeof cfg, "{\"embedded\":{\"store_dir\":\"%s\",\"listen\":\"127.0.0.1:0\",\"memory\":%s},\"shards\":%d}",
           dir, memory ? "true" : "false", shards);
  if (mesh_init(cfg, strlen(cfg), &h, &out) != MESH_OK) die("mesh_init", out);
  if (mesh_stats(h, &out) != MESH_OK) die("mesh_stats", out);
  char url[128];
  const char *u = strstr(out, "nats://");
  if (!u || sscanf(u, "%127[^\"]", url) != 1) die("no server url in stats", out);
  mesh_free(out);

  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsOptions jo;
  jsStreamConfig sc;
  jsErrCode jerr = 0;
  if (natsConnection_ConnectTo(&nc, url) != NATS_OK) die("connect", url);
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 8192;
  if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) die("jetstream", NULL);
  jsStreamConfig_Init(&sc);
  const char *subjects[] = {"raw.0"};
  sc.Name = "raw", sc.Subjects = subjects, sc.SubjectsLen = 1;
  sc.Storage = memory ? js_MemoryStorage : js_FileStorage;
  sc.AllowDirect = true, sc.Duplicates = 3600LL * 1000000000LL;
  if (js_AddStream(NULL, js, &sc, NULL, &jerr) != NATS_OK) die("js_AddStream", nats_GetLastError(NULL));

  static char events[BATCH][EVENT_BYTES + 1];
  double tm = 0, tn = 0;
  for (int r = -1; r < rounds; r++) { /* round -1 warms both up */
    char *req = build_request((long)(r + 1) * BATCH, events);
    double t0 = now_s();
    if (mesh_publish_batch(h, req, strlen(req), &out) != MESH_OK || !strstr(out, "\"published\":1000,"))
      die("mesh_publish_batch", out);
    mesh_free(out);
    double t1 = now_s();
    for (int i = 0; i < BATCH; i++) {
      natsMsg *m = NULL;
      char id[64];
      snprintf(id, sizeof id, "c:%d:%d", r + 1, i);
      natsMsg_Create(&m, "raw.0", NULL, events[i], (int)strlen(events[i]));
      natsMsgHeader_Set(m, "Nats-Msg-Id", id);
      if (js_PublishMsgAsync(js, &m, NULL) != NATS_OK) die("js_PublishMsgAsync", nats_GetLastError(NULL));
    }
    if (js_PublishAsyncComplete(js, NULL) != NATS_OK) die("js_PublishAsyncComplete", nats_GetLastError(NULL));
    double t2 = now_s();
    free(req);
    if (r >= 0) tm += t1 - t0, tn += t2 - t1;
  }
  double em = rounds * (double)BATCH / tm, en = rounds * (double)BATCH / tn;
  printf("%s, %d shards, %d rounds: mesh_publish_batch %.0f events/s, js_PublishMsgAsync %.0f events/s, ratio %.2f\n",
         memory ? "memory" : "file", shards, rounds, em, en, em / en);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (mesh_shutdown(h, &out) != MESH_OK) fprintf(stderr, "mesh_shutdown: %s\n", out);
  mesh_free(out);
  return 0;
}
