/*
 * netmesh from C: open the embedded server, publish a batch, follow the cursor
 * until every event is read back, print, shut down.
 *
 *   cc -Iinclude examples/c/main.c -Lbuild -lnetmesh -Wl,-rpath,$PWD/build -o example
 *   ./example ['{"embedded":{"store_dir":"my-data"}}']
 *
 * Responses are JSON. A real program would read them with its JSON library
 * (cJSON, jansson, yyjson...); the few lines of string scanning below keep this
 * example free of dependencies and only handle the shapes it asks for.
 */
#define _POSIX_C_SOURCE 200809L
#include <netmesh.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS 100

/* Returns a malloc'd copy of the string value of "key" in json, or NULL. */
static char *string_field(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *p = strstr(json, pattern);
  if (p == NULL) return NULL;
  p += strlen(pattern);
  const char *end = strchr(p, '"'); /* cursors are base64: no escapes */
  if (end == NULL) return NULL;
  char *s = malloc((size_t)(end - p) + 1);
  if (s == NULL) return NULL;
  memcpy(s, p, (size_t)(end - p));
  s[end - p] = '\0';
  return s;
}

/* Returns the integer value of "key" in json, or -1. */
static long number_field(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *p = strstr(json, pattern);
  return p == NULL ? -1 : strtol(p + strlen(pattern), NULL, 10);
}

/* Returns the end of the JSON object or array starting at p (just past its
 * closing bracket), skipping over strings; NULL if it is not closed. */
static const char *skip_compound(const char *p) {
  int depth = 0;
  for (; *p; p++) {
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
      if (!*p) return NULL;
    } else if (*p == '{' || *p == '[') {
      depth++;
    } else if ((*p == '}' || *p == ']') && --depth == 0) {
      return p + 1;
    }
  }
  return NULL;
}

/* Calls fn for each object of the "events" array of a poll response, with the
 * object's text (not NUL-terminated) and length. Returns how many there were. */
static int each_event(const char *json, void (*fn)(const char *event, int len, void *arg), void *arg) {
  const char *p = strstr(json, "\"events\":[");
  int n = 0;
  if (p == NULL) return 0;
  for (p += 10; (p = strpbrk(p, "{]")) != NULL && *p == '{'; n++) {
    const char *end = skip_compound(p);
    if (end == NULL) break;
    if (fn) fn(p, (int)(end - p), arg);
    p = end;
  }
  return n;
}

/* Prints one event as "shard k  id n  raw". */
static void print_event(const char *event, int len, void *arg) {
  int *left = arg;
  if (*left <= 0) return;
  (*left)--;
  char *copy = strndup(event, (size_t)len);
  const char *raw = strstr(copy, "\"raw\":");
  char *id = string_field(copy, "id");
  const char *raw_end = raw ? skip_compound(raw + 6) : NULL;
  if (raw && raw_end && id)
    printf("  shard %2ld  id %4s  %.*s\n", number_field(copy, "shard"), id, (int)(raw_end - raw - 6), raw + 6);
  free(id);
  free(copy);
}

static int fail(const char *what, int32_t code, char *json) {
  fprintf(stderr, "%s: %s (%d): %s\n", what, mesh_strerror(code), code, json ? json : "");
  mesh_free(json);
  return 1;
}

int main(int argc, char **argv) {
  const char *config = argc > 1 ? argv[1] : "{\"embedded\":{\"store_dir\":\"build/demo-c-data\"}}";
  uint64_t bus;
  char *out = NULL;
  int32_t rc;

  printf("libnetmesh %s (ABI %" PRIu32 ", header ABI %d)\n", mesh_version(), mesh_abi_version(),
         NETMESH_ABI_VERSION);
  if (mesh_abi_version() != NETMESH_ABI_VERSION) {
    fprintf(stderr, "library ABI does not match this header\n");
    return 1;
  }

  rc = mesh_init(config, strlen(config), &bus, &out);
  if (rc != MESH_OK) return fail("mesh_init", rc, out);

  /* A cursor at the current end of every shard, so that this run reads back only
   * what it publishes even when the store holds earlier runs' events. */
  const char *start = "{\"start\":\"latest\",\"limit\":1}";
  rc = mesh_poll(bus, start, strlen(start), &out);
  if (rc != MESH_OK) return fail("mesh_poll", rc, out);
  char *cursor = string_field(out, "next_cursor");
  mesh_free(out);

  /* One request with EVENTS events; they are spread over the shards by hash. */
  size_t cap = 64 + (size_t)EVENTS * 64, len = 0;
  char *req = malloc(cap);
  if (req == NULL || cursor == NULL) return 1;
  len += (size_t)snprintf(req + len, cap - len, "{\"events\":[");
  for (int i = 0; i < EVENTS; i++)
    len += (size_t)snprintf(req + len, cap - len, "%s{\"order\":%d,\"item\":\"widget-%d\",\"qty\":%d}",
                            i ? "," : "", i, i % 7, 1 + i % 5);
  len += (size_t)snprintf(req + len, cap - len, "]}");
  rc = mesh_publish_batch(bus, req, len, &out);
  free(req);
  if (rc != MESH_OK) return fail("mesh_publish_batch", rc, out);
  long published = number_field(out, "published");
  printf("published %ld events: %s\n", published, out);
  mesh_free(out);

  /* Follow the cursor until every event is back; wait_ms makes an empty poll
   * wait for new events instead of spinning. */
  int read = 0, polls = 0;
  while (read < EVENTS) {
    size_t size = strlen(cursor) + 64;
    char *poll = malloc(size);
    if (poll == NULL) return 1;
    int n = snprintf(poll, size, "{\"cursor\":\"%s\",\"limit\":40,\"wait_ms\":1000}", cursor);
    rc = mesh_poll(bus, poll, (size_t)n, &out);
    free(poll);
    if (rc != MESH_OK) return fail("mesh_poll", rc, out);
    int got = each_event(out, NULL, NULL);
    if (polls == 0) {
      int left = 3;
      printf("first poll returned %d events, for example:\n", got);
      each_event(out, print_event, &left);
    }
    read += got;
    polls++;
    free(cursor);
    cursor = string_field(out, "next_cursor");
    mesh_free(out);
    if (cursor == NULL || (got == 0 && polls > 20)) {
      fprintf(stderr, "stopped after %d polls with %d of %d events\n", polls, read, EVENTS);
      return 1;
    }
  }
  printf("read back %d events in %d polls; cursor %s\n", read, polls, cursor);
  free(cursor);

  rc = mesh_stats(bus, &out);
  if (rc != MESH_OK) return fail("mesh_stats", rc, out);
  printf("stats: %s\n", out);
  mesh_free(out);

  rc = mesh_shutdown(bus, &out);
  if (rc != MESH_OK) return fail("mesh_shutdown", rc, out);
  printf("shut down\n");
  return read == EVENTS && published == EVENTS ? 0 : 1;
}
