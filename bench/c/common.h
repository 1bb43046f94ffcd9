/*
 * What the C benchmark programs under bench/ share: the events file (one JSON
 * event per line, written by the Go driver), a clock, building a publish
 * request, and reading a poll response without a JSON library.
 */
#ifndef NETMESH_BENCH_COMMON_H
#define NETMESH_BENCH_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  char *data;    /* the whole file */
  char **ev;     /* start of each event */
  size_t *len;   /* its length, without the newline */
  size_t n;
} events_t;

static inline void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads at most max events (0: all) from path. */
static inline events_t read_events(const char *path, size_t max) {
  events_t e = {0};
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  e.data = malloc((size_t)size + 1);
  if (!e.data || fread(e.data, 1, (size_t)size, f) != (size_t)size) die("cannot read %s", path);
  fclose(f);
  e.data[size] = '\0';
  size_t lines = 0;
  for (long i = 0; i < size; i++) lines += e.data[i] == '\n';
  e.ev = malloc(lines * sizeof *e.ev);
  e.len = malloc(lines * sizeof *e.len);
  for (char *p = e.data; *p && (max == 0 || e.n < max);) {
    char *nl = strchr(p, '\n');
    if (!nl) nl = p + strlen(p);
    e.ev[e.n] = p;
    e.len[e.n++] = (size_t)(nl - p);
    p = *nl ? nl + 1 : nl;
  }
  return e;
}

/* Writes {"events":[e[from..from+n)]} into buf (grown as needed); returns its length. */
static inline size_t publish_request(const events_t *e, size_t from, size_t n, char **buf, size_t *cap) {
  size_t need = 16;
  for (size_t i = from; i < from + n; i++) need += e->len[i] + 1;
  if (need > *cap) {
    *cap = need;
    *buf = realloc(*buf, *cap);
    if (!*buf) die("out of memory");
  }
  char *p = *buf;
  memcpy(p, "{\"events\":[", 11);
  p += 11;
  for (size_t i = from; i < from + n; i++) {
    if (i > from) *p++ = ',';
    memcpy(p, e->ev[i], e->len[i]);
    p += e->len[i];
  }
  *p++ = ']';
  *p++ = '}';
  *p = '\0';
  return (size_t)(p - *buf);
}

/* Counts the events of a poll response: each starts with {"id":". The
 * benchmark's events never contain that text. */
static inline long count_events(const char *resp) {
  long n = 0;
  for (const char *p = resp; (p = strstr(p, "{\"id\":\"")) != NULL; p += 7) n++;
  return n;
}

/* Copies the response's next_cursor into a fresh string, or dies. */
static inline char *next_cursor(const char *resp) {
  const char *key = "\"next_cursor\":\"";
  const char *c = strstr(resp, key);
  const char *end = c ? strchr(c + strlen(key), '"') : NULL;
  if (!end) die("no next_cursor in %.200s", resp);
  c += strlen(key);
  size_t n = (size_t)(end - c);
  char *out = malloc(n + 1);
  memcpy(out, c, n);
  out[n] = '\0';
  return out;
}

static inline int has_more(const char *resp) { return strstr(resp, "\"has_more\":true") != NULL; }

/* The last line a participant prints: what the Go driver reads. */
static inline void print_result(long count, double seconds) {
  printf("{\"count\":%ld,\"seconds\":%.6f}\n", count, seconds);
}

#endif
