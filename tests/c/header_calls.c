/* Compiled by `make check-header` with -Wall -Wextra -Werror: includes the public
 * header as a C program would and calls every function once. argv[1]: config. */
#include <netmesh.h>

#include <stdio.h>
#include <string.h>

static int failed;

static void expect(int ok, const char *what, const char *detail) {
  if (!ok) {
    fprintf(stderr, "header_calls (C): %s failed: %s\n", what, detail ? detail : "");
    failed = 1;
  }
}

int main(int argc, char **argv) {
  const char *config = argc > 1 ? argv[1] : "{\"embedded\":{\"memory\":true}}";
  const char *publish = "{\"events\":[{\"from\":\"c\"}]}";
  const char *poll = "{\"limit\":10}";
  uint64_t handle = 0;
  char *err = NULL, *resp = NULL;
  int32_t rc;

  expect(mesh_abi_version() == NETMESH_ABI_VERSION, "mesh_abi_version", NULL);
  expect(mesh_version() != NULL && mesh_version()[0] != '\0', "mesh_version", NULL);
  expect(strlen(mesh_strerror(MESH_E_INVALID_HANDLE)) > 0, "mesh_strerror", NULL);

  rc = mesh_init(config, strlen(config), &handle, &err);
  expect(rc == MESH_OK && handle != 0 && err == NULL, "mesh_init", err);
  mesh_free(err);

  rc = mesh_publish_batch(handle, publish, strlen(publish), &resp);
  expect(rc == MESH_OK, "mesh_publish_batch", resp);
  mesh_free(resp);

  rc = mesh_poll(handle, poll, strlen(poll), &resp);
  expect(rc == MESH_OK && strstr(resp, "\"from\":\"c\"") != NULL, "mesh_poll", resp);
  mesh_free(resp);

  rc = mesh_commit(handle, "{}", 2, &resp); /* no group: refused, nothing stored */
  expect(rc == MESH_E_INVALID_ARGUMENT && strstr(resp, "invalid_argument") != NULL, "mesh_commit", resp);
  mesh_free(resp);

  rc = mesh_stats(handle, &resp);
  expect(rc == MESH_OK, "mesh_stats", resp);
  mesh_free(resp);

  rc = mesh_shutdown(handle, &err);
  expect(rc == MESH_OK && err == NULL, "mesh_shutdown", err);
  mesh_free(err);
  mesh_free(NULL);

  printf("header_calls (C): mesh %s, ABI %u: %s\n", mesh_version(), (unsigned)mesh_abi_version(),
         failed ? "FAILED" : "ok");
  return failed;
}
