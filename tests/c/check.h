/*
 * check.h: the tiny test helper of the C tests (single translation unit).
 *
 * TEST_BEGIN/TEST_END bracket one named test; CHECK records a failure of the
 * current test with its location and goes on. Checks may run on any thread.
 * finish() prints "N passed, N failed" alone on the last line and returns the
 * exit status. A watchdog thread ends the process if a test hangs.
 */
#ifndef NETMESH_TESTS_CHECK_H
#define NETMESH_TESTS_CHECK_H

#define _POSIX_C_SOURCE 200809L
#include <netmesh.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int tests_passed, tests_failed;
static int current_failures; /* updated atomically: checks run on many threads */
static const char *current_test = "";
static pthread_mutex_t print_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void failf(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  __atomic_fetch_add(&current_failures, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&print_mu);
  fprintf(stderr, "%s:%d: [%s] FAIL: ", file, line, current_test);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  pthread_mutex_unlock(&print_mu);
}

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) failf(__FILE__, __LINE__, "%s", #cond);             \
  } while (0)
#define CHECKF(cond, ...)                                            \
  do {                                                               \
    if (!(cond)) failf(__FILE__, __LINE__, __VA_ARGS__);             \
  } while (0)

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- watchdog: a thread, not a signal, so the Go runtime's handlers are moot */

static double watchdog_deadline; /* 0: disarmed */
static pthread_mutex_t watchdog_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void *watchdog_main(void *arg) {
  (void)arg;
  for (;;) {
    sleep_ms(200);
    pthread_mutex_lock(&watchdog_mu);
    double deadline = watchdog_deadline;
    pthread_mutex_unlock(&watchdog_mu);
    if (deadline > 0 && now_s() > deadline) {
      fprintf(stderr, "watchdog: test [%s] did not finish in time: hung\n", current_test);
      printf("%d passed, %d failed\n", tests_passed, tests_failed + 1);
      fflush(NULL);
      _exit(2);
    }
  }
  return NULL;
}

static inline void watchdog_arm(double seconds) {
  pthread_mutex_lock(&watchdog_mu);
  watchdog_deadline = seconds > 0 ? now_s() + seconds : 0;
  pthread_mutex_unlock(&watchdog_mu);
}

static inline void watchdog_start(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, watchdog_main, NULL) == 0) pthread_detach(t);
}

/* ---- tests */

static double test_started;

static inline void test_begin(const char *name, double watchdog_seconds) {
  current_test = name;
  __atomic_store_n(&current_failures, 0, __ATOMIC_SEQ_CST);
  test_started = now_s();
  watchdog_arm(watchdog_seconds);
}

static inline void test_end(void) {
  int failures = __atomic_load_n(&current_failures, __ATOMIC_SEQ_CST);
  watchdog_arm(0);
  if (failures == 0) {
    tests_passed++;
    printf("ok    %-44s %6.2fs\n", current_test, now_s() - test_started);
  } else {
    tests_failed++;
    printf("FAIL  %-44s (%d checks failed)\n", current_test, failures);
  }
  fflush(stdout);
}

static inline int finish(void) {
  printf("%d passed, %d failed\n", tests_passed, tests_failed);
  fflush(stdout);
  return tests_failed == 0 && tests_passed > 0 ? 0 : 1;
}

/* ---- JSON scanning (enough for the library's own response shapes) */

/* Returns just past the JSON value at p (string, object, array or scalar). */
static inline const char *json_skip(const char *p) {
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; *p; p++) {
      if (*p == '"') {
        p = json_skip(p) - 1;
      } else if (*p == '{' || *p == '[') {
        depth++;
      } else if ((*p == '}' || *p == ']') && --depth == 0) {
        return p + 1;
      }
    }
    return p;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']') p++;
  return p;
}

/* Finds the value of a top-level member "key" of the object at json (or, with
 * end, inside [json, end)); returns its start or NULL. Only members of the
 * outermost object are considered, never nested ones. */
static inline const char *json_member(const char *json, const char *key) {
  const char *p = json;
  size_t klen = strlen(key);
  while (*p && *p != '{') p++;
  if (!*p) return NULL;
  p++;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\n') p++;
    if (*p != '"') return NULL;
    const char *kend = json_skip(p);
    int match = (size_t)(kend - p) == klen + 2 && strncmp(p + 1, key, klen) == 0;
    p = kend;
    while (*p == ' ' || *p == ':') p++;
    if (match) return p;
    p = json_skip(p);
  }
  return NULL;
}

/* Copies the string member "key" into a malloc'd string (escapes kept), or NULL. */
static inline char *json_string(const char *json, const char *key) {
  const char *v = json_member(json, key);
  if (v == NULL || *v != '"') return NULL;
  const char *end = json_skip(v);
  return strndup(v + 1, (size_t)(end - v - 2));
}

/* The integer member "key", or def when absent or not a number. */
static inline long long json_int(const char *json, const char *key, long long def) {
  const char *v = json_member(json, key);
  if (v == NULL || !(*v == '-' || (*v >= '0' && *v <= '9'))) return def;
  return strtoll(v, NULL, 10);
}

/* The boolean member "key": 1, 0, or -1 when absent. */
static inline int json_bool(const char *json, const char *key) {
  const char *v = json_member(json, key);
  if (v == NULL) return -1;
  if (strncmp(v, "true", 4) == 0) return 1;
  if (strncmp(v, "false", 5) == 0) return 0;
  return -1;
}

/* Iterates the elements of the array member "key": *it is NULL to start; each
 * call returns the next element's start (its end is json_skip of it), or NULL. */
static inline const char *json_next(const char *json, const char *key, const char **it) {
  const char *p = *it;
  if (p == NULL) {
    p = json_member(json, key);
    if (p == NULL || *p != '[') return NULL;
    p++;
  }
  while (*p == ' ' || *p == ',' || *p == '\n') p++;
  if (*p == ']' || !*p) return NULL;
  *it = json_skip(p);
  return p;
}

/* Number of elements of the array member "key", or -1 when there is none. */
static inline int json_count(const char *json, const char *key) {
  const char *it = NULL;
  int n = 0;
  if (json_member(json, key) == NULL) return -1;
  while (json_next(json, key, &it)) n++;
  return n;
}

/* ---- the error object: {"error":{"code":"…","message":"…","retryable":…}} */

static inline const char *code_name(int32_t code) {
  switch (code) {
    case MESH_OK: return "ok";
    case MESH_E_INVALID_ARGUMENT: return "invalid_argument";
    case MESH_E_INVALID_HANDLE: return "invalid_handle";
    case MESH_E_CONNECTION: return "connection";
    case MESH_E_TRANSIENT: return "transient";
    case MESH_E_FATAL: return "fatal";
    case MESH_E_TOO_LARGE: return "too_large";
    case MESH_E_SHUTDOWN: return "shutdown";
    case MESH_E_INTERNAL: return "internal";
  }
  return "?";
}

/* Checks that json is exactly an error object for code, with a message holding
 * every one of the NULL-terminated words given. Returns 1 when it is. */
static inline int error_object_is(const char *json, int32_t code, ...) {
  if (json == NULL) return 0;
  const char *err = json_member(json, "error");
  if (err == NULL || *err != '{' || strncmp(json, "{\"error\":{", 10) != 0) return 0;
  if (*json_skip(err) != '}' || json_skip(err)[1] != '\0') return 0; /* nothing else */
  char *c = json_string(err, "code");
  char *msg = json_string(err, "message");
  int ok = c && msg && strcmp(c, code_name(code)) == 0 && msg[0] != '\0' &&
           json_bool(err, "retryable") == (code == MESH_E_TRANSIENT);
  va_list ap;
  va_start(ap, code);
  for (const char *w; ok && (w = va_arg(ap, const char *)) != NULL;)
    ok = strstr(msg, w) != NULL;
  va_end(ap);
  free(c);
  free(msg);
  return ok;
}

/* ---- base64 (cursors are standard base64 of JSON) */

static inline char *base64(const char *s) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(s), o = 0;
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)s[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

/* ---- resident memory from /proc/self/statm, in bytes */

static inline long rss_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

#endif
