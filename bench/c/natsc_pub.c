/*
 * nats.c (Debian's libnats-dev) publishing the events file as a user of the
 * plain client would: one stream, js_PublishAsync for every event, then
 * js_PublishAsyncComplete. Creating the stream is not timed.
 *
 *   natsc_pub URL STREAM EVENTS_FILE [msgid]
 *
 * At most 4000 publishes are in flight (nats.go's default; nats.c has no limit
 * by default, and a 2.11 server answers a flood of 100k with 429 "too many
 * requests"); a full window waits for room, up to a minute. With "msgid",
 * every message carries a Nats-Msg-Id (what netmesh always sends, for its
 * deduplication). Prints {"count":N,"seconds":S}.
 */
#include "common.h"

#include <nats/nats.h>

static long failed;

static void on_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
  (void)js;
  (void)closure;
  if (failed++ == 0) fprintf(stderr, "natsc_pub: publish failed: %s\n", pae->ErrText ? pae->ErrText : "?");
}

static void check(natsStatus s, const char *what) {
  if (s != NATS_OK) die("natsc_pub: %s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(NULL));
}

int main(int argc, char **argv) {
  if (argc < 4) die("usage: natsc_pub URL STREAM EVENTS_FILE [msgid]");
  const char *url = argv[1], *stream = argv[2];
  int msgid = argc > 4 && strcmp(argv[4], "msgid") == 0;
  events_t ev = read_events(argv[3], 0);

  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsOptions jo;
  check(natsConnection_ConnectTo(&nc, url), "connect");
  check(jsOptions_Init(&jo), "jsOptions_Init");
  jo.PublishAsync.ErrHandler = on_error;
  jo.PublishAsync.MaxPending = 4000;
  jo.PublishAsync.StallWait = 60000; /* the default 200 ms fails publishes on a busy machine */
  check(natsConnection_JetStream(&js, nc, &jo), "JetStream");

  char subject[200];
  snprintf(subject, sizeof subject, "%s.x", stream);
  const char *subjects[] = {subject};
  jsStreamConfig sc;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  check(jsStreamConfig_Init(&sc), "jsStreamConfig_Init");
  sc.Name = stream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.AllowDirect = true;
  check(js_AddStream(&si, js, &sc, NULL, &jerr), "js_AddStream");
  jsStreamInfo_Destroy(si);

  jsPubOptions po;
  char id[64];
  double start = now_s();
  for (size_t i = 0; i < ev.n; i++) {
    jsPubOptions *opts = NULL;
    if (msgid) {
      jsPubOptions_Init(&po);
      snprintf(id, sizeof id, "natsc:%zu", i);
      po.MsgId = id;
      opts = &po;
    }
    check(js_PublishAsync(js, subject, ev.ev[i], (int)ev.len[i], opts), "js_PublishAsync");
  }
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  check(js_PublishAsyncComplete(js, &po), "js_PublishAsyncComplete");
  double secs = now_s() - start;
  if (failed) die("natsc_pub: %ld of %zu publishes failed", failed, ev.n);

  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  print_result((long)ev.n, secs);
  return 0;
}
