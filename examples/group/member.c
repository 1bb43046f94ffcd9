/*
 * A consumer group member in C (examples/group): poll the group, handle the
 * batch, commit it; stop on SIGTERM, which commits the batch in hand and leaves
 * the group (mesh_shutdown hands this member's shards to the others at once).
 *
 *   member URL GROUP NAME
 *
 * It reports to run.py on stdout, one line each:
 *   assigned K,K,..|-    the shards it holds, when that changes
 *   batch COUNT SUM      a handled batch: its events and the sum of their "n"
 *   bye TOTAL            it left the group
 * The events are {"n":N}; the JSON is read with strstr, enough for them.
 */
#define _POSIX_C_SOURCE 200809L
#include <netmesh.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stopping = 0;

static void on_sigterm(int sig) {
  (void)sig;
  stopping = 1;
}

/* The text of the JSON array after "key":[ up to its ']' (no nesting). */
static int array_text(const char *json, const char *key, char *out, size_t out_len) {
  char pattern[32];
  snprintf(pattern, sizeof pattern, "\"%s\":[", key);
  const char *p = strstr(json, pattern);
  if (p == NULL) return 0;
  p += strlen(pattern);
  const char *end = strchr(p, ']');
  if (end == NULL || (size_t)(end - p) + 2 > out_len) return 0;
  if (end == p) {
    strcpy(out, "-");
  } else {
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
  }
  return 1;
}

static int fail(const char *what, int32_t rc, char *json) {
  fprintf(stderr, "member: %s: %s: %s\n", what, mesh_strerror(rc), json ? json : "");
  mesh_free(json);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s URL GROUP NAME\n", argv[0]);
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigterm;
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);

  char config[512], poll_req[256];
  snprintf(config, sizeof config, "{\"url\":\"%s\",\"shards\":6}", argv[1]);
  int poll_len = snprintf(poll_req, sizeof poll_req,
                          "{\"group\":\"%s\",\"member\":\"%s\",\"limit\":100,\"wait_ms\":500}", argv[2], argv[3]);
  uint64_t bus;
  char *out = NULL;
  int32_t rc = mesh_init(config, strlen(config), &bus, &out);
  if (rc != MESH_OK) return fail("mesh_init", rc, out);

  char assigned[1024] = "", now[1024];
  char *commit = NULL;
  long total = 0;
  int status = 0;
  while (!stopping) {
    rc = mesh_poll(bus, poll_req, (size_t)poll_len, &out);
    if (rc != MESH_OK) {
      status = fail("mesh_poll", rc, out);
      break;
    }
    if (array_text(out, "assigned", now, sizeof now) && strcmp(now, assigned) != 0) {
      strcpy(assigned, now);
      printf("assigned %s\n", assigned);
    }
    /* Handle the batch: here, count the events and add up their "n". */
    long count = 0, sum = 0;
    for (const char *p = out; (p = strstr(p, "\"raw\":{\"n\":")) != NULL; p += 11) {
      count++;
      sum += strtol(p + 11, NULL, 10);
    }
    /* Commit the batch: mesh_commit takes the poll's next_cursor as it is. */
    const char *cur = strstr(out, "\"next_cursor\":\"");
    const char *end = cur ? strchr(cur + 15, '"') : NULL;
    if (end == NULL) {
      status = fail("poll response", MESH_E_INTERNAL, out);
      break;
    }
    cur += 15;
    size_t need = (size_t)(end - cur) + strlen(argv[2]) + 32;
    char *grown = realloc(commit, need);
    if (grown == NULL) return 1;
    commit = grown;
    int commit_len = snprintf(commit, need, "{\"group\":\"%s\",\"cursor\":\"%.*s\"}", argv[2], (int)(end - cur), cur);
    mesh_free(out);
    if (count == 0) continue;
    rc = mesh_commit(bus, commit, (size_t)commit_len, &out);
    if (rc != MESH_OK) {
      status = fail("mesh_commit", rc, out);
      break;
    }
    mesh_free(out);
    total += count;
    printf("batch %ld %ld\n", count, sum);
  }
  free(commit);
  rc = mesh_shutdown(bus, &out);
  if (rc != MESH_OK) status = fail("mesh_shutdown", rc, out);
  printf("bye %ld\n", total);
  return status;
}
