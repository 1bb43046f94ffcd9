// The C++ smoke test of an installed netmesh (tests/dist/run.sh): as smoke.c,
// through the same header from C++17.
//
//   smoke_cpp STORE_DIR VERSION
#include <netmesh.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

// Runs one call that answers through a char ** out parameter; returns the text it
// answered (freed here with mesh_free) or throws with it.
template <typename Call>
std::string call(const char *what, Call fn) {
  char *out = nullptr;
  int32_t status = fn(&out);
  std::unique_ptr<char, decltype(&mesh_free)> owned(out, &mesh_free);
  std::string text = out ? out : "";
  if (status != MESH_OK) throw std::runtime_error(std::string(what) + ": " + text);
  return text;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STORE_DIR VERSION\n", argv[0]);
    return 2;
  }
  try {
    if (std::string(mesh_version()) != argv[2]) throw std::runtime_error(std::string("library ") + mesh_version());
    std::string config = std::string(R"({"embedded":{"store_dir":")") + argv[1] + R"("},"shards":2})";
    uint64_t h = 0;
    call("mesh_init", [&](char **out) { return mesh_init(config.data(), config.size(), &h, out); });
    std::string pub = R"({"events":[{"lang":"c++"}],"batch_id":"smoke-cpp"})";
    std::string acked = call("publish", [&](char **out) { return mesh_publish_batch(h, pub.data(), pub.size(), out); });
    if (acked.find(R"("published":1)") == std::string::npos) throw std::runtime_error("publish answered " + acked);
    std::string poll = R"({"limit":10,"wait_ms":5000})";
    std::string got = call("poll", [&](char **out) { return mesh_poll(h, poll.data(), poll.size(), out); });
    if (got.find(R"({"lang":"c++"})") == std::string::npos) throw std::runtime_error("poll answered " + got);
    call("shutdown", [&](char **out) { return mesh_shutdown(h, out); });
  } catch (const std::exception &e) {
    std::fprintf(stderr, "smoke (C++): %s\n", e.what());
    return 1;
  }
  std::printf("smoke (C++): published and polled one event with libnetmesh %s\n", mesh_version());
  return 0;
}
