/*
 * A consumer group member in C, for core/groupproc_test.go (make group-test).
 * member.py and member.js do exactly the same in Python and Node.
 *
 *   group_member URL GROUP MEMBER LOG_FILE [STOP_FILE]
 *
 * URL may also come from NETMESH_URL when the argument is "-". Environment
 * (all optional): MEMBER_SHARDS (16), MEMBER_REPLICAS (1), MEMBER_SESSION_MS
 * (2000), MEMBER_LIMIT (200), MEMBER_WAIT_MS (500).
 *
 * Loop: a group poll ({"group","member","limit","wait_ms"}); one line per event
 * appended to LOG_FILE, flushed per batch; then mesh_commit of the batch's
 * next_cursor. The log (tests/group/README.md):
 *
 *   MEMBER SHARD SEQ UNIX_NANOS                      one processed event
 *   # start MEMBER UNIX_NANOS
 *   # assigned MEMBER UNIX_NANOS K,K,..|-            the poll's "assigned" changed
 *                                                    (time: when the poll returned)
 *   # commit MEMBER UNIX_NANOS K,..|- K,..|-          committed, revoked; after a
 *                                                    revoke the next "assigned" is logged
 *   # pause MEMBER UNIX_NANOS                        about to SIGSTOP itself
 *   # stop MEMBER UNIX_NANOS                         about to call mesh_shutdown
 *   # exit MEMBER UNIX_NANOS                         mesh_shutdown returned
 *
 * It stops when STOP_FILE exists or on SIGTERM/SIGINT: the batch in hand is
 * committed, then mesh_shutdown releases the member's shards at once. When
 * LOG_FILE.pause exists after a batch is logged, it removes the file and stops
 * itself with SIGSTOP before committing (the driver sends SIGCONT): a pause at
 * the one point where a commit can find its shards gone. SIGKILL needs nothing.
 *
 * Exit status: 0 after a clean stop, 1 on an error, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <netmesh.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static unsigned long long unix_nanos(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_requested) {
  }
}

static int file_exists(const char *path) {
  struct stat st;
  return path != NULL && stat(path, &st) == 0;
}

static long env_long(const char *name, long def, long lo, long hi) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return def;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < lo || n > hi) {
    fprintf(stderr, "group_member: %s=%s is not an integer in %ld..%ld\n", name, v, lo, hi);
    exit(2);
  }
  return n;
}

/* Names, ids and URLs go into JSON strings unescaped: refuse what would need it. */
static int plain(const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return 0;
  }
  return 1;
}

/* The JSON array after "key": in json, copied as "k,k,.." ("-" when empty)
 * into out. Returns 0 when the key is missing or out is too small. */
static int int_list(const char *json, const char *key, char *out, size_t out_len) {
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

/* The value of the string field "key" in json, as a pointer into json and a
 * length (no escapes in the fields read here: base64 and decimals). */
static const char *string_field(const char *json, const char *key, size_t *len) {
  char pattern[32];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *p = strstr(json, pattern);
  if (p == NULL) return NULL;
  p += strlen(pattern);
  const char *end = strchr(p, '"');
  if (end == NULL) return NULL;
  *len = (size_t)(end - p);
  return p;
}

static FILE *logf_;
static const char *member;

static void log_meta(const char *what, const char *rest) {
  fprintf(logf_, "# %s %s %llu%s%s\n", what, member, unix_nanos(), rest ? " " : "", rest ? rest : "");
  fflush(logf_);
}

static int failed(const char *what, int32_t rc, char *json) {
  fprintf(stderr, "group_member %s: %s: %s (%d): %s\n", member, what, mesh_strerror(rc), (int)rc,
          json ? json : "");
  mesh_free(json);
  return 1;
}

/* Appends one line per event of a poll response: "MEMBER SHARD SEQ NANOS".
 * Events are {"id":"<seq>","shard":k,"ts":"..","raw":{"n":N}}; the raw events
 * of this test hold no strings, so "\"id\":\"" only starts an event. */
static int log_events(const char *resp, size_t *count) {
  const char *p = strstr(resp, "{\"events\":[");
  const char *end = strstr(resp, "],\"next_cursor\":");
  if (p == NULL || end == NULL) return 0;
  *count = 0;
  while ((p = strstr(p, "{\"id\":\"")) != NULL && p < end) {
    p += 7;
    char *q;
    unsigned long long seq = strtoull(p, &q, 10);
    if (q == p || strncmp(q, "\",\"shard\":", 10) != 0) return 0;
    p = q + 10;
    unsigned long shard = strtoul(p, &q, 10);
    if (q == p) return 0;
    p = q;
    fprintf(logf_, "%s %lu %llu %llu\n", member, shard, seq, unix_nanos());
    (*count)++;
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 6) {
    fprintf(stderr, "usage: %s URL GROUP MEMBER LOG_FILE [STOP_FILE]\n", argv[0]);
    return 2;
  }
  const char *url = strcmp(argv[1], "-") == 0 ? getenv("NETMESH_URL") : argv[1];
  const char *group = argv[2], *log_path = argv[4], *stop_file = argc > 5 ? argv[5] : NULL;
  member = argv[3];
  if (url == NULL || !plain(url) || !plain(group) || !plain(member)) {
    fprintf(stderr, "group_member: URL (or NETMESH_URL), GROUP and MEMBER must be given without quotes or backslashes\n");
    return 2;
  }
  long shards = env_long("MEMBER_SHARDS", 16, 1, 1024);
  long replicas = env_long("MEMBER_REPLICAS", 1, 1, 5);
  long session_ms = env_long("MEMBER_SESSION_MS", 2000, 1000, 600000);
  long limit = env_long("MEMBER_LIMIT", 200, 1, 10000);
  long wait_ms = env_long("MEMBER_WAIT_MS", 500, 0, 300000);

  char pause_file[4096];
  if ((size_t)snprintf(pause_file, sizeof pause_file, "%s.pause", log_path) >= sizeof pause_file) {
    fprintf(stderr, "group_member: log path too long\n");
    return 2;
  }
  logf_ = fopen(log_path, "a");
  if (logf_ == NULL) {
    perror(log_path);
    return 1;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  size_t cfg_len = strlen(url) + 256;
  char *config = malloc(cfg_len);
  if (config == NULL) return 1;
  snprintf(config, cfg_len,
           "{\"url\":\"%s\",\"shards\":%ld,\"replicas\":%ld,\"groups\":{\"session_ms\":%ld},"
           "\"log_level\":\"warn\"}",
           url, shards, replicas, session_ms);
  uint64_t bus;
  char *out = NULL;
  int32_t rc = mesh_init(config, strlen(config), &bus, &out);
  free(config);
  if (rc != MESH_OK) return failed("mesh_init", rc, out);
  log_meta("start", NULL);

  char poll_req[512];
  int poll_len = snprintf(poll_req, sizeof poll_req,
                          "{\"group\":\"%s\",\"member\":\"%s\",\"limit\":%ld,\"wait_ms\":%ld}", group,
                          member, limit, wait_ms);
  if (poll_len < 0 || (size_t)poll_len >= sizeof poll_req) {
    fprintf(stderr, "group_member: group or member too long\n");
    return 2;
  }
  char assigned[8192] = "", now_assigned[8192];
  char *commit_req = NULL;
  size_t commit_cap = 0;
  int status = 0;

  while (!stop_requested && !file_exists(stop_file)) {
    rc = mesh_poll(bus, poll_req, (size_t)poll_len, &out);
    unsigned long long returned = unix_nanos();
    if (rc == MESH_E_TRANSIENT) { /* a leader change, a timeout: poll again */
      fprintf(stderr, "group_member %s: poll: %s\n", member, out ? out : "");
      mesh_free(out);
      sleep_ms(100);
      continue;
    }
    if (rc != MESH_OK) {
      status = failed("mesh_poll", rc, out);
      break;
    }
    if (!int_list(out, "assigned", now_assigned, sizeof now_assigned)) {
      status = failed("poll response without assigned", MESH_E_INTERNAL, out);
      break;
    }
    if (strcmp(now_assigned, assigned) != 0) {
      strcpy(assigned, now_assigned);
      fprintf(logf_, "# assigned %s %llu %s\n", member, returned, assigned);
    }
    size_t count = 0;
    if (!log_events(out, &count)) {
      status = failed("unexpected poll response", MESH_E_INTERNAL, out);
      break;
    }
    fflush(logf_);

    size_t cur_len;
    const char *cur = string_field(out, "next_cursor", &cur_len);
    if (cur == NULL) {
      status = failed("poll response without next_cursor", MESH_E_INTERNAL, out);
      break;
    }
    size_t need = cur_len + strlen(group) + 64;
    if (need > commit_cap) {
      free(commit_req);
      commit_cap = need * 2;
      commit_req = malloc(commit_cap);
      if (commit_req == NULL) return 1;
    }
    int commit_len = snprintf(commit_req, commit_cap, "{\"group\":\"%s\",\"cursor\":\"%.*s\"}", group,
                              (int)cur_len, cur);
    mesh_free(out);

    if (count > 0 && file_exists(pause_file)) {
      unlink(pause_file);
      log_meta("pause", NULL);
      raise(SIGSTOP);
    }

    for (int attempt = 0;; attempt++) {
      rc = mesh_commit(bus, commit_req, (size_t)commit_len, &out);
      if (rc != MESH_E_TRANSIENT || attempt == 5) break;
      fprintf(stderr, "group_member %s: commit: %s\n", member, out ? out : "");
      mesh_free(out);
      sleep_ms(100);
    }
    if (rc == MESH_E_TRANSIENT) { /* the next batch's commit covers this one */
      mesh_free(out);
      continue;
    }
    if (rc != MESH_OK) {
      status = failed("mesh_commit", rc, out);
      break;
    }
    char committed[8192], revoked[8192], rest[16400];
    if (!int_list(out, "committed", committed, sizeof committed) ||
        !int_list(out, "revoked", revoked, sizeof revoked)) {
      status = failed("unexpected commit response", MESH_E_INTERNAL, out);
      break;
    }
    mesh_free(out);
    snprintf(rest, sizeof rest, "%s %s", committed, revoked);
    log_meta("commit", rest);
    if (strcmp(revoked, "-") != 0) assigned[0] = '\0'; /* those shards are gone: log the next assignment */
  }

  free(commit_req);
  log_meta("stop", NULL);
  rc = mesh_shutdown(bus, &out);
  if (rc != MESH_OK) status = failed("mesh_shutdown", rc, out);
  log_meta("exit", NULL);
  fclose(logf_);
  return status;
}
