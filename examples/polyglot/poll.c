/*
 * The C side of the polyglot demo: connect to a running netmesh server by URL,
 * follow the cursor from the earliest event, and report whether an event carries
 * the given marker.
 *
 *   poll nats://127.0.0.1:4222 MARKER
 *
 * Exits 0 when found, 1 when not, 2 on an error.
 */
#define _POSIX_C_SOURCE 200809L
#include <netmesh.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns a malloc'd copy of the string value of "key" in json, or NULL
 * (enough for next_cursor: base64, no escapes). */
static char *string_field(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *p = strstr(json, pattern);
  if (p == NULL) return NULL;
  p += strlen(pattern);
  const char *end = strchr(p, '"');
  if (end == NULL) return NULL;
  char *s = malloc((size_t)(end - p) + 1);
  if (s == NULL) return NULL;
  memcpy(s, p, (size_t)(end - p));
  s[end - p] = '\0';
  return s;
}

static int fail(const char *what, int32_t code, char *json) {
  fprintf(stderr, "c: %s: %s (%d): %s\n", what, mesh_strerror(code), (int)code, json ? json : "");
  mesh_free(json);
  return 2;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s URL MARKER\n", argv[0]);
    return 2;
  }
  char config[512], needle[256];
  snprintf(config, sizeof config, "{\"url\":\"%s\",\"connect_timeout_ms\":5000}", argv[1]);
  /* Python's json.dumps and JSON.stringify both write "marker":"..." compactly;
   * a real program would parse the events with a JSON library. */
  snprintf(needle, sizeof needle, "\"marker\":\"%s\"", argv[2]);

  uint64_t bus;
  char *out = NULL;
  int32_t rc = mesh_init(config, strlen(config), &bus, &out);
  if (rc != MESH_OK) return fail("mesh_init", rc, out);

  char *cursor = NULL;
  int found = 0;
  for (int polls = 0; polls < 1000 && !found; polls++) {
    char req[1024];
    int n = cursor ? snprintf(req, sizeof req, "{\"cursor\":\"%s\",\"limit\":100,\"wait_ms\":500}", cursor)
                   : snprintf(req, sizeof req, "{\"limit\":100,\"wait_ms\":500}");
    if (n < 0 || (size_t)n >= sizeof req) {
      fprintf(stderr, "c: cursor too long\n");
      return 2;
    }
    rc = mesh_poll(bus, req, (size_t)n, &out);
    if (rc != MESH_OK) return fail("mesh_poll", rc, out);
    const char *hit = strstr(out, needle);
    if (hit != NULL) {
      printf("c: found marker %s\n", argv[2]);
      found = 1;
    }
    int empty = strstr(out, "\"events\":[]") != NULL;
    free(cursor);
    cursor = string_field(out, "next_cursor");
    mesh_free(out);
    if (empty || cursor == NULL) break;
  }
  free(cursor);
  if (!found) printf("c: marker %s not found\n", argv[2]);

  rc = mesh_shutdown(bus, &out);
  if (rc != MESH_OK) return fail("mesh_shutdown", rc, out);
  return found ? 0 : 1;
}
