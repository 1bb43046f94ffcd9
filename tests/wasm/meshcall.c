/*
 * One call of the C library, for the wasm tests: the response text goes to
 * stdout exactly as the library returned it, so a test can compare it byte
 * for byte with what the wasm build answers.
 *
 *   meshcall CONFIG publish|poll|stats [REQUEST]
 *
 * Exits 0 on MESH_OK; otherwise prints the error object to stderr and exits 1
 * (2 for a usage error).
 */
#include <netmesh.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s CONFIG publish|poll|stats [REQUEST]\n", argv[0]);
    return 2;
  }
  const char *config = argv[1], *op = argv[2], *req = argc == 4 ? argv[3] : "{}";
  uint64_t bus;
  char *out = NULL;
  int32_t rc = mesh_init(config, strlen(config), &bus, &out);
  if (rc != MESH_OK) {
    fprintf(stderr, "meshcall: mesh_init: %s (%d): %s\n", mesh_strerror(rc), (int)rc, out ? out : "");
    mesh_free(out);
    return 1;
  }
  if (strcmp(op, "publish") == 0) {
    rc = mesh_publish_batch(bus, req, strlen(req), &out);
  } else if (strcmp(op, "poll") == 0) {
    rc = mesh_poll(bus, req, strlen(req), &out);
  } else if (strcmp(op, "stats") == 0) {
    rc = mesh_stats(bus, &out);
  } else {
    fprintf(stderr, "meshcall: unknown operation %s\n", op);
    mesh_shutdown(bus, NULL);
    return 2;
  }
  if (rc == MESH_OK) {
    fputs(out, stdout);
  } else {
    fprintf(stderr, "meshcall: %s: %s (%d): %s\n", op, mesh_strerror(rc), (int)rc, out ? out : "");
  }
  mesh_free(out);
  char *err = NULL;
  int32_t down = mesh_shutdown(bus, &err);
  mesh_free(err);
  return rc == MESH_OK && down == MESH_OK ? 0 : 1;
}
