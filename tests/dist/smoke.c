/*
 * The C smoke test of an installed netmesh (tests/dist/run.sh), built with
 * pkg-config and with CMake: publish one event on the embedded server, poll it
 * back, check the library's version.
 *
 *   smoke STORE_DIR VERSION
 */
#include <netmesh.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, char *text) {
  fprintf(stderr, "smoke (C): %s: %s\n", what, text ? text : "(no message)");
  mesh_free(text);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s STORE_DIR VERSION\n", argv[0]);
    return 2;
  }
  if (strcmp(mesh_version(), argv[2]) != 0 || mesh_abi_version() != NETMESH_ABI_VERSION) {
    fprintf(stderr, "smoke (C): library %s (abi %u), want %s (abi %d)\n", mesh_version(),
            (unsigned)mesh_abi_version(), argv[2], NETMESH_ABI_VERSION);
    return 1;
  }
  char config[4096];
  snprintf(config, sizeof config, "{\"embedded\":{\"store_dir\":\"%s\"},\"shards\":2}", argv[1]);
  uint64_t h = 0;
  char *text = NULL;
  if (mesh_init(config, strlen(config), &h, &text) != MESH_OK) return fail("mesh_init", text);
  const char *pub = "{\"events\":[{\"lang\":\"c\"}],\"batch_id\":\"smoke-c\"}";
  if (mesh_publish_batch(h, pub, strlen(pub), &text) != MESH_OK) return fail("publish", text);
  if (strstr(text, "\"published\":1") == NULL) return fail("publish answered", text);
  mesh_free(text);
  const char *poll = "{\"limit\":10,\"wait_ms\":5000}";
  if (mesh_poll(h, poll, strlen(poll), &text) != MESH_OK) return fail("poll", text);
  if (strstr(text, "{\"lang\":\"c\"}") == NULL) return fail("poll answered", text);
  mesh_free(text);
  if (mesh_shutdown(h, &text) != MESH_OK) return fail("shutdown", text);
  printf("smoke (C): published and polled one event with libnetmesh %s\n", mesh_version());
  return 0;
}
