/*
 * The C tests of libnetmesh: the C ABI as a C program sees it.
 *
 *   test_capi [DATA_DIR]      (default build/ctest-data)
 *
 * Each test opens its own bus on its own store_dir under DATA_DIR (handles on the
 * same store_dir would share one embedded server). The last line is
 * "N passed, N failed"; the exit status is non-zero on any failure.
 */
#include "check.h"

#include <stdatomic.h>

static const char *data_dir = "build/ctest-data";
static int store_seq;

/* Writes a config for a fresh embedded store into buf: the embedded object gets
 * its own store_dir, memory storage when memory is set; extra (may be "") is
 * appended inside the top-level object, e.g. ",\"shards\":4". */
static const char *config(char *buf, size_t size, int memory, const char *extra) {
  snprintf(buf, size, "{\"embedded\":{\"store_dir\":\"%s/%d-%d\"%s}%s}", data_dir, (int)getpid(),
           ++store_seq, memory ? ",\"memory\":true" : "", extra);
  return buf;
}

static uint64_t open_bus(int memory, const char *extra) {
  char cfg[512];
  uint64_t h = 0;
  char *err = NULL;
  config(cfg, sizeof cfg, memory, extra);
  int32_t rc = mesh_init(cfg, strlen(cfg), &h, &err);
  CHECKF(rc == MESH_OK && h != 0 && err == NULL, "mesh_init(%s) = %d: %s", cfg, rc, err ? err : "");
  mesh_free(err);
  return h;
}

static void close_bus(uint64_t h) {
  char *err = NULL;
  int32_t rc = mesh_shutdown(h, &err);
  CHECKF(rc == MESH_OK && err == NULL, "mesh_shutdown = %d: %s", rc, err ? err : "");
  mesh_free(err);
}

/* Calls mesh_publish_batch or mesh_poll with a NUL-terminated request. */
static int32_t publish(uint64_t h, const char *req, char **out) {
  return mesh_publish_batch(h, req, req ? strlen(req) : 0, out);
}
static int32_t poll_(uint64_t h, const char *req, char **out) {
  return mesh_poll(h, req, req ? strlen(req) : 0, out);
}

/* ------------------------------------------------------------------------- */

static void test_version(void) {
  test_begin("version, ABI version and strerror", 10);
  const char *v = mesh_version();
  CHECK(v != NULL && v[0] >= '0' && v[0] <= '9' && strchr(v, '.') != NULL);
  CHECK(mesh_version() == v); /* static: the same string every time */
  CHECK(mesh_abi_version() == NETMESH_ABI_VERSION);
  const int32_t codes[] = {MESH_OK, MESH_E_INVALID_ARGUMENT, MESH_E_INVALID_HANDLE, MESH_E_CONNECTION,
                           MESH_E_TRANSIENT, MESH_E_FATAL, MESH_E_TOO_LARGE, MESH_E_SHUTDOWN,
                           MESH_E_INTERNAL};
  const size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    const char *s = mesh_strerror(codes[i]);
    CHECKF(s != NULL && strlen(s) > 3, "mesh_strerror(%d)", codes[i]);
    CHECK(mesh_strerror(codes[i]) == s);
    for (size_t j = 0; j < i; j++) CHECKF(strcmp(s, mesh_strerror(codes[j])) != 0, "strerror %d == %d", codes[i], codes[j]);
  }
  const char *unknown = mesh_strerror(12345);
  CHECK(unknown != NULL && strstr(unknown, "unknown") != NULL);
  CHECK(mesh_strerror(-8) == unknown && mesh_strerror(INT32_MIN) == unknown);
  mesh_free(NULL);
  test_end();
}

/* The events of the round trip: every JSON type, escapes, UTF-8, inner spaces. */
static const char *rt_events[] = {
    "{\"a\":1}", "[1,2,3]", "\"text \\u00e9 \\\"q\\\" \xc3\xa9\"", "42", "true", "false",
    "{\"nested\":{\"x\":[null,false,{}]}}", "-1.5e3", "{\"emoji\":\"\xf0\x9f\x98\x80\"}",
    "{ \"spaced\" : [ 1, 2 ] }", "{}", "[]",
};
#define RT_N (int)(sizeof rt_events / sizeof rt_events[0])

/* Counts how often each rt_event occurs as a "raw" of the poll response. */
static int match_raws(const char *resp, int seen[RT_N], int shards) {
  const char *it = NULL, *ev;
  int n = 0;
  while ((ev = json_next(resp, "events", &it)) != NULL) {
    n++;
    const char *raw = json_member(ev, "raw");
    char *id = json_string(ev, "id"), *ts = json_string(ev, "ts");
    long long shard = json_int(ev, "shard", -1);
    CHECKF(id && strspn(id, "0123456789") == strlen(id) && id[0] != '0', "id %s", id ? id : "(none)");
    CHECKF(ts && strspn(ts, "0123456789") == strlen(ts) && strlen(ts) >= 18, "ts %s", ts ? ts : "(none)");
    CHECKF(shard >= 0 && shard < shards, "shard %lld", shard);
    free(id);
    free(ts);
    int found = 0;
    for (int i = 0; raw && i < RT_N; i++) {
      size_t len = strlen(rt_events[i]);
      if (strncmp(raw, rt_events[i], len) == 0 && json_skip(raw) == raw + len) {
        seen[i]++;
        found = 1;
        break;
      }
    }
    CHECKF(found, "raw not published (or changed): %.80s", raw ? raw : "(none)");
  }
  return n;
}

static void test_round_trip(void) {
  test_begin("round trip: publish, poll, cursor, batch_id", 60);
  uint64_t h = open_bus(0, ",\"shards\":4");
  char req[2048], *resp = NULL;
  size_t len = (size_t)snprintf(req, sizeof req, "{\"events\":[");
  for (int i = 0; i < RT_N; i++) len += (size_t)snprintf(req + len, sizeof req - len, "%s%s", i ? "," : "", rt_events[i]);
  snprintf(req + len, sizeof req - len, "]}");

  int32_t rc = publish(h, req, &resp);
  CHECKF(rc == MESH_OK && json_int(resp, "published", -1) == RT_N && json_int(resp, "duplicates", -1) == 0,
         "publish = %d: %s", rc, resp);
  mesh_free(resp);

  /* Everything comes back once, byte for byte. */
  rc = poll_(h, "{\"limit\":100}", &resp);
  CHECKF(rc == MESH_OK, "poll = %d: %s", rc, resp);
  int seen[RT_N] = {0};
  CHECKF(match_raws(resp, seen, 4) == RT_N, "poll returned %d events: %s", json_count(resp, "events"), resp);
  for (int i = 0; i < RT_N; i++) CHECKF(seen[i] == 1, "event %s read %d times", rt_events[i], seen[i]);
  CHECK(json_bool(resp, "has_more") == 0);
  CHECK(json_int(resp, "skipped", -1) == 0);
  char *cursor = json_string(resp, "next_cursor");
  CHECK(cursor != NULL && cursor[0] != '\0');
  mesh_free(resp);

  /* From the cursor: nothing new. */
  snprintf(req, sizeof req, "{\"cursor\":\"%s\"}", cursor ? cursor : "");
  rc = poll_(h, req, &resp);
  CHECKF(rc == MESH_OK && json_count(resp, "events") == 0 && json_bool(resp, "has_more") == 0, "%d: %s", rc, resp);
  mesh_free(resp);

  /* A limit below the total leaves has_more. */
  rc = poll_(h, "{\"limit\":2}", &resp);
  CHECKF(rc == MESH_OK && json_count(resp, "events") == 2 && json_bool(resp, "has_more") == 1, "%d: %s", rc, resp);
  mesh_free(resp);

  /* A batch_id retry stores nothing twice; shard puts every event there. */
  const char *batch = "{\"events\":[{\"k\":0},{\"k\":1},{\"k\":2},{\"k\":3},{\"k\":4}],\"shard\":2,\"batch_id\":\"rt-1\"}";
  rc = publish(h, batch, &resp);
  CHECKF(rc == MESH_OK && json_int(resp, "published", -1) == 5 && json_int(resp, "duplicates", -1) == 0, "%d: %s", rc, resp);
  mesh_free(resp);
  rc = publish(h, batch, &resp);
  CHECKF(rc == MESH_OK && json_int(resp, "published", -1) == 0 && json_int(resp, "duplicates", -1) == 5, "retry %d: %s", rc, resp);
  mesh_free(resp);
  rc = poll_(h, req, &resp); /* same cursor as before */
  CHECKF(rc == MESH_OK && json_count(resp, "events") == 5, "%d: %s", rc, resp);
  {
    const char *it = NULL, *ev;
    int k = 0;
    while ((ev = json_next(resp, "events", &it)) != NULL) {
      char want[32];
      snprintf(want, sizeof want, "{\"k\":%d}", k++);
      const char *raw = json_member(ev, "raw");
      CHECKF(json_int(ev, "shard", -1) == 2 && raw && strncmp(raw, want, strlen(want)) == 0, "event %d: %.80s", k - 1, ev);
    }
  }
  mesh_free(resp);

  /* Empty events publish nothing; an empty request and NULL/0 mean {}; the
   * length is honoured (no NUL needed). */
  rc = publish(h, "{\"events\":[]}", &resp);
  CHECKF(rc == MESH_OK && json_int(resp, "published", -1) == 0, "%d: %s", rc, resp);
  mesh_free(resp);
  rc = mesh_poll(h, NULL, 0, &resp);
  CHECKF(rc == MESH_OK && json_count(resp, "events") > 0, "NULL/0 poll %d: %s", rc, resp);
  mesh_free(resp);
  rc = mesh_poll(h, "", 0, &resp);
  CHECKF(rc == MESH_OK && json_count(resp, "events") > 0, "empty poll %d: %s", rc, resp);
  mesh_free(resp);
  rc = mesh_poll(h, "{\"limit\":1}GARBAGE", 11, &resp);
  CHECKF(rc == MESH_OK && json_count(resp, "events") == 1, "length-bounded poll %d: %s", rc, resp);
  mesh_free(resp);

  rc = mesh_stats(h, &resp);
  CHECKF(rc == MESH_OK && resp && resp[0] == '{' && json_member(resp, "error") == NULL, "stats %d: %s", rc, resp);
  mesh_free(resp);
  free(cursor);
  close_bus(h);
  test_end();
}

/* ------------------------------------------------------------------------- */

enum op { PUBLISH, POLL, INIT };

struct error_case {
  const char *name;
  enum op op;
  const char *request; /* NULL: use len with a NULL pointer */
  size_t len;          /* 0: strlen(request) */
  int32_t code;
  const char *words[3]; /* the message contains each of these */
};

static char big_request[2048];

static const struct error_case error_cases[] = {
    {"publish: NULL with length > 0", PUBLISH, NULL, 5, MESH_E_INVALID_ARGUMENT, {"NULL"}},
    {"poll: NULL with length > 0", POLL, NULL, 1, MESH_E_INVALID_ARGUMENT, {"NULL"}},
    {"init: NULL config with length > 0", INIT, NULL, 3, MESH_E_INVALID_ARGUMENT, {"NULL"}},
    {"poll: invalid UTF-8", POLL, "{\"cursor\":\"\xff\xfe\"}", 0, MESH_E_INVALID_ARGUMENT, {"UTF-8"}},
    {"publish: invalid UTF-8 inside an event", PUBLISH, "{\"events\":[\"ok \xc3\x28\"]}", 0, MESH_E_INVALID_ARGUMENT, {"UTF-8"}},
    {"init: invalid UTF-8", INIT, "{\"prefix\":\"\xed\xa0\x80\"}", 0, MESH_E_INVALID_ARGUMENT, {"UTF-8"}},
    {"poll: invalid JSON", POLL, "{\"limit\":", 0, MESH_E_INVALID_ARGUMENT, {"JSON"}},
    {"publish: invalid JSON", PUBLISH, "{\"events\":[1,]}", 0, MESH_E_INVALID_ARGUMENT, {"JSON"}},
    {"poll: not an object", POLL, "[1]", 0, MESH_E_INVALID_ARGUMENT, {"object"}},
    {"poll: unknown field", POLL, "{\"limt\":5}", 0, MESH_E_INVALID_ARGUMENT, {"limt"}},
    {"publish: unknown field", PUBLISH, "{\"events\":[1],\"shrad\":1}", 0, MESH_E_INVALID_ARGUMENT, {"shrad"}},
    {"init: unknown field", INIT, "{\"shard\":4}", 0, MESH_E_INVALID_ARGUMENT, {"shard"}},
    {"init: unknown embedded field", INIT, "{\"embedded\":{\"memroy\":true}}", 0, MESH_E_INVALID_ARGUMENT, {"memroy"}},
    {"init: shards 0", INIT, "{\"shards\":0}", 0, MESH_E_INVALID_ARGUMENT, {"shards", "1..1024"}},
    {"init: max_request_bytes 1023", INIT, "{\"max_request_bytes\":1023}", 0, MESH_E_INVALID_ARGUMENT, {"max_request_bytes"}},
    {"poll: limit 0", POLL, "{\"limit\":0}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: limit -1", POLL, "{\"limit\":-1}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: limit 1e30", POLL, "{\"limit\":1e30}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: limit 10001", POLL, "{\"limit\":10001}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: limit \"100\"", POLL, "{\"limit\":\"100\"}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: limit 1.5", POLL, "{\"limit\":1.5}", 0, MESH_E_INVALID_ARGUMENT, {"limit", "1..10000"}},
    {"poll: cursor not base64", POLL, "{\"cursor\":\"%%%not-base64%%%\"}", 0, MESH_E_INVALID_ARGUMENT, {"cursor"}},
    {"poll: cursor base64 of non-JSON", POLL, "{\"cursor\":\"aGVsbG8=\"}", 0, MESH_E_INVALID_ARGUMENT, {"cursor"}},
    {"poll: cursor of a number", POLL, "{\"cursor\":42}", 0, MESH_E_INVALID_ARGUMENT, {"cursor"}},
    /* Cursors built from JSON follow in test_errors(). */
    {"poll: shard 4 of 4", POLL, "{\"shard\":4}", 0, MESH_E_INVALID_ARGUMENT, {"shard"}},
    {"poll: shard -1", POLL, "{\"shard\":-1}", 0, MESH_E_INVALID_ARGUMENT, {"shard"}},
    {"publish: shard 4 of 4", PUBLISH, "{\"events\":[1],\"shard\":4}", 0, MESH_E_INVALID_ARGUMENT, {"shard"}},
    {"publish: a null event", PUBLISH, "{\"events\":[{\"a\":1},null]}", 0, MESH_E_INVALID_ARGUMENT, {"1"}},
    {"publish: events missing", PUBLISH, "{}", 0, MESH_E_INVALID_ARGUMENT, {"events"}},
    {"publish: events not an array", PUBLISH, "{\"events\":{}}", 0, MESH_E_INVALID_ARGUMENT, {"events"}},
    {"publish: batch_id with a space", PUBLISH, "{\"events\":[1],\"batch_id\":\"bad id\"}", 0, MESH_E_INVALID_ARGUMENT, {"batch_id"}},
    {"publish: batch_id empty", PUBLISH, "{\"events\":[1],\"batch_id\":\"\"}", 0, MESH_E_INVALID_ARGUMENT, {"batch_id"}},
    {"publish: batch_id 129 chars", PUBLISH, NULL, 0, MESH_E_INVALID_ARGUMENT, {"batch_id"}}, /* built below */
    {"publish: batch_id a number", PUBLISH, "{\"events\":[1],\"batch_id\":7}", 0, MESH_E_INVALID_ARGUMENT, {"batch_id"}},
    {"poll: wait_ms 300001", POLL, "{\"wait_ms\":300001}", 0, MESH_E_INVALID_ARGUMENT, {"wait_ms"}},
    {"poll: start bogus", POLL, "{\"start\":\"middle\"}", 0, MESH_E_INVALID_ARGUMENT, {"start"}},
    {"poll: timeout_ms 0", POLL, "{\"timeout_ms\":0}", 0, MESH_E_INVALID_ARGUMENT, {"timeout_ms"}},
    {"publish: over max_request_bytes (1024)", PUBLISH, big_request, 0, MESH_E_TOO_LARGE, {"1024"}},
};

static void run_case(uint64_t h, const char *name, enum op op, const char *request, size_t len, int32_t code,
                     const char *const words[3]) {
  test_begin(name, 30);
  char *out = (char *)"sentinel: must be replaced";
  int32_t rc;
  if (len == 0 && request) len = strlen(request);
  if (op == INIT) {
    uint64_t h2 = 777;
    rc = mesh_init(request, len, &h2, &out);
    CHECKF(h2 == 0, "handle_out = %llu on failure", (unsigned long long)h2);
    if (rc == MESH_OK) mesh_shutdown(h2, NULL);
  } else if (op == PUBLISH) {
    rc = mesh_publish_batch(h, request, len, &out);
  } else {
    rc = mesh_poll(h, request, len, &out);
  }
  CHECKF(rc == code, "code %d (%s), want %d: %s", rc, code_name(rc), code, out ? out : "(NULL)");
  if (getenv("MESH_TEST_VERBOSE")) printf("      %s\n", out ? out : "(NULL)");
  CHECKF(error_object_is(out, code, words[0], words[1], words[2], (const char *)NULL),
         "error object (want code %s, message with \"%s\"): %s", code_name(code), words[0] ? words[0] : "",
         out ? out : "(NULL)");
  mesh_free(out);
  test_end();
}

static void test_errors(void) {
  test_begin("open a bus with max_request_bytes 1024", 30);
  uint64_t h = open_bus(1, ",\"shards\":4,\"max_request_bytes\":1024");
  test_end();

  /* A request over max_request_bytes made of small valid events. */
  size_t len = (size_t)snprintf(big_request, sizeof big_request, "{\"events\":[");
  while (len < 1500) len += (size_t)snprintf(big_request + len, sizeof big_request - len, "{\"pad\":\"xxxxxxxxxxxxxxxx\"},");
  snprintf(big_request + len - 1, sizeof big_request - len + 1, "]}");

  char long_id[200];
  snprintf(long_id, sizeof long_id, "{\"events\":[1],\"batch_id\":\"%0129d\"}", 0);
  for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
    const struct error_case *c = &error_cases[i];
    const char *request = c->request;
    if (c->op == PUBLISH && request == NULL && c->len == 0) request = long_id;
    run_case(h, c->name, c->op, request, c->len, c->code, c->words);
  }

  /* Cursors: garbage inside valid base64, u64 overflow, bad keys. */
  static const struct { const char *name, *json; int ok; } cursors[] = {
      {"poll: cursor with u64 overflow", "{\"0\":\"18446744073709551616\"}", 0},
      {"poll: cursor sequence negative", "{\"0\":\"-1\"}", 0},
      {"poll: cursor sequence a number", "{\"0\":1}", 0},
      {"poll: cursor shard key out of range", "{\"4\":\"1\"}", 0},
      {"poll: cursor shard key non-canonical", "{\"01\":\"1\"}", 0},
      {"poll: cursor an array", "[\"1\"]", 0},
      {"poll: cursor at u64 max is parked (valid)", "{\"0\":\"18446744073709551615\"}", 1},
      {"poll: cursor at 0 (valid)", "{\"0\":\"0\",\"3\":\"0\"}", 1},
  };
  for (size_t i = 0; i < sizeof cursors / sizeof cursors[0]; i++) {
    char req[256], *b64 = base64(cursors[i].json);
    snprintf(req, sizeof req, "{\"cursor\":\"%s\"%s}", b64, cursors[i].ok ? ",\"shard\":0" : "");
    free(b64);
    if (!cursors[i].ok) {
      static const char *const words[3] = {"cursor"};
      run_case(h, cursors[i].name, POLL, req, 0, MESH_E_INVALID_ARGUMENT, words);
      continue;
    }
    test_begin(cursors[i].name, 30);
    char *out = NULL;
    int32_t rc = poll_(h, req, &out);
    CHECKF(rc == MESH_OK && json_count(out, "events") == 0, "%d: %s", rc, out);
    mesh_free(out);
    test_end();
  }

  /* NULL handle_out: invalid_argument with an error object, nothing opened. */
  test_begin("init: NULL handle_out", 30);
  {
    char cfg[256], *err = NULL;
    config(cfg, sizeof cfg, 1, "");
    int32_t rc = mesh_init(cfg, strlen(cfg), NULL, &err);
    CHECKF(rc == MESH_E_INVALID_ARGUMENT && error_object_is(err, MESH_E_INVALID_ARGUMENT, "handle_out", (char *)NULL),
           "%d: %s", rc, err);
    mesh_free(err);
  }
  test_end();

  /* The handle still works after all those errors (so they were the requests'). */
  test_begin("errors leave the handle usable", 30);
  {
    char *out = NULL;
    int32_t rc = publish(h, "{\"events\":[{\"after\":\"errors\"}],\"shard\":1}", &out);
    CHECKF(rc == MESH_OK && json_int(out, "published", -1) == 1, "%d: %s", rc, out);
    mesh_free(out);
    rc = poll_(h, "{\"shard\":1}", &out);
    CHECKF(rc == MESH_OK && json_count(out, "events") == 1 && strstr(out, "\"after\":\"errors\""), "%d: %s", rc, out);
    mesh_free(out);
    /* A request just under max_request_bytes is accepted. */
    rc = publish(h, "{\"events\":[{\"pad\":\"xxxxxxxxxxxxxxxx\"},{\"pad\":\"xxxxxxxxxxxxxxxx\"}]}", &out);
    CHECKF(rc == MESH_OK, "%d: %s", rc, out);
    mesh_free(out);
    close_bus(h);
  }
  test_end();
}

/* ------------------------------------------------------------------------- */

static void expect_invalid_handle(uint64_t h, const char *what) {
  char *out = NULL;
  int32_t rc = publish(h, "{\"events\":[1]}", &out);
  CHECKF(rc == MESH_E_INVALID_HANDLE && error_object_is(out, MESH_E_INVALID_HANDLE, (char *)NULL),
         "%s: publish = %d: %s", what, rc, out);
  mesh_free(out);
  rc = poll_(h, "{}", &out);
  CHECKF(rc == MESH_E_INVALID_HANDLE && error_object_is(out, MESH_E_INVALID_HANDLE, (char *)NULL),
         "%s: poll = %d: %s", what, rc, out);
  mesh_free(out);
  rc = mesh_stats(h, &out);
  CHECKF(rc == MESH_E_INVALID_HANDLE && error_object_is(out, MESH_E_INVALID_HANDLE, (char *)NULL),
         "%s: stats = %d: %s", what, rc, out);
  mesh_free(out);
  rc = mesh_poll(h, NULL, 7, &out); /* the handle is checked first */
  CHECKF(rc == MESH_E_INVALID_HANDLE, "%s: poll(NULL, 7) = %d", what, rc);
  mesh_free(out);
}

static void test_handles(void) {
  test_begin("handle 0", 10);
  expect_invalid_handle(0, "handle 0");
  {
    char *err = NULL;
    int32_t rc = mesh_shutdown(0, &err);
    CHECKF(rc == MESH_E_INVALID_HANDLE && error_object_is(err, MESH_E_INVALID_HANDLE, (char *)NULL), "%d: %s", rc, err);
    mesh_free(err);
  }
  test_end();

  test_begin("random handles", 10);
  {
    uint64_t h = open_bus(1, ",\"shards\":1");
    const uint64_t randoms[] = {0xdeadbeefcafef00dULL, 1, 2, 0xffffffffffffffffULL, 1ULL << 32,
                                h + 1, h ^ (1ULL << 32), h ^ (1ULL << 63), h << 1};
    for (size_t i = 0; i < sizeof randoms / sizeof randoms[0]; i++) {
      if (randoms[i] == h) continue;
      char what[64];
      snprintf(what, sizeof what, "handle %#llx", (unsigned long long)randoms[i]);
      expect_invalid_handle(randoms[i], what);
      CHECKF(mesh_shutdown(randoms[i], NULL) == MESH_E_INVALID_HANDLE, "%s: shutdown", what);
    }
    char *out = NULL; /* the real one is untouched by all that */
    CHECK(mesh_stats(h, &out) == MESH_OK);
    mesh_free(out);
    close_bus(h);
  }
  test_end();

  test_begin("handle after shutdown, second shutdown", 30);
  {
    uint64_t h = open_bus(1, ",\"shards\":1");
    char *err = (char *)"sentinel";
    CHECK(mesh_shutdown(h, &err) == MESH_OK && err == NULL);
    expect_invalid_handle(h, "after shutdown");
    err = NULL;
    int32_t rc = mesh_shutdown(h, &err);
    CHECKF(rc == MESH_E_INVALID_HANDLE && error_object_is(err, MESH_E_INVALID_HANDLE, (char *)NULL), "second: %d: %s", rc, err);
    mesh_free(err);
  }
  test_end();

  test_begin("stale handle after its slot is reused", 30);
  {
    uint64_t h1 = open_bus(1, ",\"shards\":1");
    close_bus(h1);
    uint64_t h2 = open_bus(1, ",\"shards\":1");
    CHECKF(h2 != h1, "reused handle %llu", (unsigned long long)h1);
    expect_invalid_handle(h1, "stale");
    char *out = NULL;
    CHECK(mesh_stats(h2, &out) == MESH_OK);
    mesh_free(out);
    close_bus(h2);
  }
  test_end();
}

static void test_null_outs(void) {
  test_begin("NULL *_out pointers are accepted", 30);
  char cfg[256];
  uint64_t h = 0;
  config(cfg, sizeof cfg, 1, ",\"shards\":2");
  CHECK(mesh_init(cfg, strlen(cfg), &h, NULL) == MESH_OK && h != 0);
  /* The work is still done: the event is stored. */
  CHECK(publish(h, "{\"events\":[{\"quiet\":true}]}", NULL) == MESH_OK);
  CHECK(poll_(h, "{}", NULL) == MESH_OK);
  CHECK(mesh_stats(h, NULL) == MESH_OK);
  char *out = NULL;
  CHECK(poll_(h, "{}", &out) == MESH_OK && out && strstr(out, "{\"quiet\":true}"));
  mesh_free(out);
  /* Failures still return their code. */
  CHECK(poll_(h, "{\"limit\":0}", NULL) == MESH_E_INVALID_ARGUMENT);
  CHECK(mesh_publish_batch(h, NULL, 3, NULL) == MESH_E_INVALID_ARGUMENT);
  uint64_t h2 = 99;
  CHECK(mesh_init("{\"shards\":0}", 12, &h2, NULL) == MESH_E_INVALID_ARGUMENT && h2 == 0);
  CHECK(mesh_init(NULL, 0, NULL, NULL) == MESH_E_INVALID_ARGUMENT);
  CHECK(mesh_stats(0, NULL) == MESH_E_INVALID_HANDLE);
  CHECK(mesh_shutdown(h, NULL) == MESH_OK);
  CHECK(mesh_shutdown(h, NULL) == MESH_E_INVALID_HANDLE);
  test_end();
}

/* ------------------------------------------------------------------------- */
/* 8 threads publish and poll one handle. Thread t publishes batches of its own
 * events {"p":t,"n":i} (hashed over 8 shards) and follows shard t's cursor;
 * afterwards every (t, i) must have been read exactly once, from the shard it
 * went to, and in publish order within each (shard, publisher). */

#define T_THREADS 8
#define T_BATCHES 50
#define T_BATCH 40
#define T_EVENTS (T_BATCHES * T_BATCH)

static uint64_t t_handle;
static atomic_int t_publishers_done;
static int t_seen[T_THREADS][T_EVENTS];
static atomic_long t_read_total, t_published_total;

static int read_shard(int shard, char **cursor, int last_n[T_THREADS], int wait) {
  char req[1024], *out = NULL;
  snprintf(req, sizeof req, "{\"shard\":%d,\"limit\":40,\"wait_ms\":%d%s%s%s}", shard, wait,
           *cursor ? ",\"cursor\":\"" : "", *cursor ? *cursor : "", *cursor ? "\"" : "");
  int32_t rc = poll_(t_handle, req, &out);
  if (rc != MESH_OK) {
    CHECKF(0, "poll shard %d = %d: %s", shard, rc, out);
    mesh_free(out);
    return -1;
  }
  const char *it = NULL, *ev;
  int got = 0;
  while ((ev = json_next(out, "events", &it)) != NULL) {
    int p = -1, n = -1;
    const char *raw = json_member(ev, "raw");
    if (raw == NULL || sscanf(raw, "{\"p\":%d,\"n\":%d}", &p, &n) != 2 || p < 0 || p >= T_THREADS || n < 0 || n >= T_EVENTS) {
      CHECKF(0, "unexpected event %.100s", ev);
      continue;
    }
    CHECKF(json_int(ev, "shard", -1) == shard, "event from shard %lld on shard %d", json_int(ev, "shard", -1), shard);
    CHECKF(n > last_n[p], "shard %d: publisher %d event %d after %d", shard, p, n, last_n[p]);
    last_n[p] = n;
    __atomic_fetch_add(&t_seen[p][n], 1, __ATOMIC_SEQ_CST);
    got++;
  }
  atomic_fetch_add(&t_read_total, got);
  char *next = json_string(out, "next_cursor");
  CHECKF(next != NULL, "no next_cursor: %s", out);
  if (next) {
    free(*cursor);
    *cursor = next;
  }
  int more = json_bool(out, "has_more");
  mesh_free(out);
  return got > 0 || more == 1;
}

static void *t_worker(void *arg) {
  int t = (int)(intptr_t)arg, last_n[T_THREADS];
  char *cursor = NULL, *req = malloc(T_BATCH * 40 + 64), *out = NULL;
  for (int i = 0; i < T_THREADS; i++) last_n[i] = -1;
  for (int b = 0; b < T_BATCHES; b++) {
    size_t len = (size_t)sprintf(req, "{\"events\":[");
    for (int i = 0; i < T_BATCH; i++) len += (size_t)sprintf(req + len, "%s{\"p\":%d,\"n\":%d}", i ? "," : "", t, b * T_BATCH + i);
    sprintf(req + len, "]}");
    int32_t rc = publish(t_handle, req, &out);
    CHECKF(rc == MESH_OK && json_int(out, "published", -1) == T_BATCH, "thread %d publish = %d: %s", t, rc, out);
    atomic_fetch_add(&t_published_total, json_int(out, "published", 0));
    mesh_free(out);
    read_shard(t, &cursor, last_n, 0);
  }
  atomic_fetch_add(&t_publishers_done, 1);
  /* Drain: once every publisher is done (all acknowledged, so readable), read
   * until a poll finds nothing more. */
  for (int idle = 0; idle < 1000;) {
    int done = atomic_load(&t_publishers_done) == T_THREADS;
    int r = read_shard(t, &cursor, last_n, done ? 0 : 20);
    if (r < 0) break;
    if (r == 0 && done) break;
    if (r == 0) idle++;
  }
  free(cursor);
  free(req);
  return NULL;
}

static void test_threads(void) {
  test_begin("8 threads publish and poll one handle", 90);
  t_handle = open_bus(1, ",\"shards\":8");
  pthread_t th[T_THREADS];
  for (int t = 0; t < T_THREADS; t++) pthread_create(&th[t], NULL, t_worker, (void *)(intptr_t)t);
  for (int t = 0; t < T_THREADS; t++) pthread_join(th[t], NULL);
  long missing = 0, doubled = 0;
  for (int t = 0; t < T_THREADS; t++)
    for (int n = 0; n < T_EVENTS; n++) {
      if (t_seen[t][n] == 0 && missing++ < 5) CHECKF(0, "event p=%d n=%d never read", t, n);
      if (t_seen[t][n] > 1 && doubled++ < 5) CHECKF(0, "event p=%d n=%d read %d times", t, n, t_seen[t][n]);
    }
  CHECKF(missing == 0 && doubled == 0, "%ld missing, %ld read more than once", missing, doubled);
  CHECKF(atomic_load(&t_published_total) == T_THREADS * T_EVENTS && atomic_load(&t_read_total) == T_THREADS * T_EVENTS,
         "published %ld, read %ld, want %d", atomic_load(&t_published_total), atomic_load(&t_read_total), T_THREADS * T_EVENTS);
  if (missing == 0 && doubled == 0)
    printf("      %d events published and read back once by %d threads\n", T_THREADS * T_EVENTS, T_THREADS);
  close_bus(t_handle);
  test_end();
}

/* ------------------------------------------------------------------------- */
/* Shutdown racing calls on other threads: every call ends with a code, none
 * crashes or hangs (the watchdog ends the run if one does). */

#define R_THREADS 8

static uint64_t r_handle;
static atomic_int r_started;
struct race_result {
  long calls, by_code[8]; /* index: -code for -7..0 */
  long bad_code, bad_object;
  int32_t last, long_poll_rc;
  double long_poll_s;
};
static struct race_result r_results[R_THREADS];

static void r_record(struct race_result *r, int32_t rc, const char *out) {
  r->calls++;
  r->last = rc;
  if (rc > 0 || rc < -7) {
    r->bad_code++;
  } else {
    r->by_code[-rc]++;
  }
  if (rc != MESH_OK && !error_object_is(out, rc, (char *)NULL)) r->bad_object++;
}

static void *r_worker(void *arg) {
  int t = (int)(intptr_t)arg;
  struct race_result *r = &r_results[t];
  atomic_fetch_add(&r_started, 1);
  if (t == 0) {
    /* A long poll on a shard nobody writes: shutdown must end it early. */
    char *out = NULL;
    double start = now_s();
    int32_t rc = poll_(r_handle, "{\"shard\":1,\"start\":\"latest\",\"wait_ms\":30000}", &out);
    r->long_poll_s = now_s() - start;
    r->long_poll_rc = rc;
    r_record(r, rc, out);
    mesh_free(out);
  }
  for (int i = 0; i < 1000000; i++) {
    char *out = NULL;
    int32_t rc;
    switch (i % 3) {
      case 0: rc = publish(r_handle, "{\"events\":[{\"race\":1},{\"race\":2}],\"shard\":0}", &out); break;
      case 1: rc = poll_(r_handle, "{\"shard\":0,\"limit\":5,\"start\":\"latest\"}", &out); break;
      default: rc = mesh_stats(r_handle, &out); break;
    }
    r_record(r, rc, out);
    mesh_free(out);
    if (rc == MESH_E_INVALID_HANDLE) break; /* the handle is gone: later calls all say so */
  }
  return NULL;
}

/* One round: 8 threads call in a loop, the main thread shuts down after delay_ms. */
static void race_round(int delay_ms) {
  memset(r_results, 0, sizeof r_results);
  atomic_store(&r_started, 0);
  r_handle = open_bus(1, ",\"shards\":2");
  pthread_t th[R_THREADS];
  for (int t = 0; t < R_THREADS; t++) pthread_create(&th[t], NULL, r_worker, (void *)(intptr_t)t);
  while (atomic_load(&r_started) < R_THREADS) sleep_ms(1);
  sleep_ms(delay_ms);
  char *err = NULL;
  double start = now_s();
  int32_t rc = mesh_shutdown(r_handle, &err);
  double took = now_s() - start;
  CHECKF(rc == MESH_OK || rc == MESH_E_TRANSIENT, "shutdown = %d: %s", rc, err);
  mesh_free(err);
  for (int t = 0; t < R_THREADS; t++) pthread_join(th[t], NULL);
  long total[8] = {0}, calls = 0;
  for (int t = 0; t < R_THREADS; t++) {
    struct race_result *r = &r_results[t];
    calls += r->calls;
    for (int c = 0; c < 8; c++) total[c] += r->by_code[c];
    CHECKF(r->bad_code == 0, "thread %d: %ld calls with an unknown code", t, r->bad_code);
    CHECKF(r->bad_object == 0, "thread %d: %ld failures without a matching error object", t, r->bad_object);
    CHECKF(r->last == MESH_E_INVALID_HANDLE, "thread %d ended with %d", t, r->last);
  }
  /* Racing calls may only succeed, see the shutdown, see the handle gone, or
   * (a drain cut short) be transient. */
  CHECKF(total[1] + total[3] + total[5] + total[6] == 0, "unexpected codes: invalid_argument %ld connection %ld fatal %ld too_large %ld",
         total[1], total[3], total[5], total[6]);
  CHECKF(delay_ms < 30 || total[0] > 0, "no call succeeded in %d ms before the shutdown", delay_ms);
  CHECKF(r_results[0].long_poll_s < 20, "a 30 s long poll took %.1f s despite the shutdown", r_results[0].long_poll_s);
  printf("      after %3d ms: shutdown took %.3fs; %5ld racing calls: %ld ok, %ld shutdown, %ld transient, %ld invalid_handle; long poll ended after %.2fs with %s\n",
         delay_ms, took, calls, total[0], total[7], total[4], total[2], r_results[0].long_poll_s,
         code_name(r_results[0].long_poll_rc));
}

static void test_shutdown_race(void) {
  test_begin("shutdown racing calls on 8 threads", 90);
  const int delays[] = {0, 5, 30, 100, 300};
  for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) race_round(delays[i]);
  test_end();
}

/* ------------------------------------------------------------------------- */
/* 100000 calls with their responses freed: resident memory stays flat. */

#define M_CALLS 100000
#define M_BOUND (8L << 20)

static void test_memory(void) {
  test_begin("100000 calls: resident memory stays flat", 120);
  uint64_t h = open_bus(1, ",\"shards\":1");
  char *out = NULL;
  CHECK(publish(h, "{\"events\":[{\"m\":1}]}", NULL) == MESH_OK);
  /* Warm up: let the Go heap and the caches reach their working size. */
  for (int i = 0; i < 5000; i++) {
    poll_(h, "{\"cursor\":null,\"start\":\"latest\"}", &out);
    mesh_free(out);
  }
  long before = rss_bytes(), bytes = 0, errors = 0;
  double start = now_s();
  for (int i = 0; i < M_CALLS; i++) {
    int32_t rc;
    switch (i % 4) {
      case 0: rc = mesh_stats(h, &out); break;
      case 1: rc = poll_(h, "{\"limit\":1}", &out); break;              /* one event */
      case 2: rc = poll_(h, "{\"start\":\"latest\"}", &out); break;      /* empty */
      default: rc = poll_(h, "{\"limit\":0}", &out); rc = rc == MESH_E_INVALID_ARGUMENT ? MESH_OK : rc; break;
    }
    if (rc != MESH_OK) errors++;
    if (out) bytes += (long)strlen(out) + 1;
    mesh_free(out);
  }
  double secs = now_s() - start;
  long after = rss_bytes();
  CHECKF(errors == 0, "%ld calls failed", errors);
  printf("      RSS before %.1f MiB, after %.1f MiB (growth %+.1f MiB, bound %ld MiB); %d calls in %.1fs (%.0f/s) returned %.1f MiB in all\n",
         before / 1048576.0, after / 1048576.0, (after - before) / 1048576.0, M_BOUND >> 20, M_CALLS, secs,
         M_CALLS / secs, bytes / 1048576.0);
  CHECKF(after - before < M_BOUND, "RSS grew by %ld bytes", after - before);
  /* The bound must be able to catch a leak of the responses. */
  CHECKF(bytes > M_BOUND, "the responses (%ld bytes) are too small for the bound to detect their leak", bytes);
  close_bus(h);
  test_end();
}

int main(int argc, char **argv) {
  if (argc > 1) data_dir = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  watchdog_start();
  printf("libnetmesh %s, ABI %u; data under %s\n", mesh_version(), (unsigned)mesh_abi_version(), data_dir);
  test_version();
  test_round_trip();
  test_errors();
  test_handles();
  test_null_outs();
  test_threads();
  test_shutdown_race();
  test_memory();
  return finish();
}
