// Compiled by `make check-header` with -Wall -Wextra -Werror as C++: the public
// header must work inside C++ (extern "C", no C-only constructs). argv[1]: config.
#include <netmesh.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int failed = 0;

void expect(bool ok, const char *what, const char *detail) {
  if (!ok) {
    std::fprintf(stderr, "header_calls (C++): %s failed: %s\n", what, detail ? detail : "");
    failed = 1;
  }
}

// Owns a string returned by the library.
struct MeshString {
  char *p = nullptr;
  MeshString() = default;
  MeshString(const MeshString &) = delete;
  MeshString &operator=(const MeshString &) = delete;
  ~MeshString() { mesh_free(p); }
};

}  // namespace

int main(int argc, char **argv) {
  const std::string config = argc > 1 ? argv[1] : "{\"embedded\":{\"memory\":true}}";
  const std::string publish = R"({"events":[{"from":"c++"}]})";
  const std::string poll = R"({"limit":10})";
  std::uint64_t handle = 0;

  expect(mesh_abi_version() == NETMESH_ABI_VERSION, "mesh_abi_version", nullptr);
  expect(std::strlen(mesh_version()) > 0, "mesh_version", nullptr);
  expect(std::strlen(mesh_strerror(MESH_E_INTERNAL)) > 0, "mesh_strerror", nullptr);
  {
    MeshString err;
    std::int32_t rc = mesh_init(config.data(), config.size(), &handle, &err.p);
    expect(rc == MESH_OK && handle != 0, "mesh_init", err.p);
  }
  {
    MeshString resp;
    std::int32_t rc = mesh_publish_batch(handle, publish.data(), publish.size(), &resp.p);
    expect(rc == MESH_OK, "mesh_publish_batch", resp.p);
  }
  {
    MeshString resp;
    std::int32_t rc = mesh_poll(handle, poll.data(), poll.size(), &resp.p);
    expect(rc == MESH_OK && std::strstr(resp.p, R"("from":"c++")") != nullptr, "mesh_poll", resp.p);
  }
  {
    MeshString resp;  // no group: refused, nothing stored
    std::int32_t rc = mesh_commit(handle, "{}", 2, &resp.p);
    expect(rc == MESH_E_INVALID_ARGUMENT && std::strstr(resp.p, "invalid_argument") != nullptr, "mesh_commit", resp.p);
  }
  {
    MeshString resp;
    std::int32_t rc = mesh_stats(handle, &resp.p);
    expect(rc == MESH_OK, "mesh_stats", resp.p);
  }
  {
    MeshString err;
    std::int32_t rc = mesh_shutdown(handle, &err.p);
    expect(rc == MESH_OK && err.p == nullptr, "mesh_shutdown", err.p);
  }
  mesh_free(nullptr);

  std::printf("header_calls (C++): mesh %s, ABI %u: %s\n", mesh_version(),
              static_cast<unsigned>(mesh_abi_version()), failed ? "FAILED" : "ok");
  return failed;
}
