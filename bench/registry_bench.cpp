// Registry benchmark: points N tags at one manifest (PUT of the same bytes), then resolves all
// N digests with cascade's registry client from T threads over pooled keep-alive connections.
// Prints one JSON object; bench/registry_bench.sh drives it and compares with skopeo.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cascade/registry.hpp"

namespace {

struct Args {
  std::string registry;     // host:port of a plain-http registry
  std::string repository = "bench/app";
  std::string source_tag = "base";
  int tags = 1000;
  int threads = 16;
  int rounds = 3;  // resolve rounds; the median is reported
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i], value = argv[i + 1];
    if (name == "--registry") args.registry = value;
    else if (name == "--repository") args.repository = value;
    else if (name == "--source-tag") args.source_tag = value;
    else if (name == "--tags") args.tags = std::atoi(value.c_str());
    else if (name == "--threads") args.threads = std::atoi(value.c_str());
    else if (name == "--rounds") args.rounds = std::max(1, std::atoi(value.c_str()));
    else throw std::runtime_error("unknown option " + name);
  }
  if (args.registry.empty()) throw std::runtime_error("usage: registry_bench --registry HOST:PORT [--tags N] [--threads T]");
  return args;
}

cascade::reference::Reference image(const Args& args, const std::string& tag) {
  auto parsed = cascade::reference::parse(args.registry + "/" + args.repository + ":" + tag);
  if (!parsed) throw std::runtime_error("bad reference: " + parsed.error().message);
  return *parsed;
}

std::string tag_name(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "t%04d", i);
  return name;
}

// Runs work(i) for i in [0, count) on `threads` threads; returns the seconds it took.
double parallel(int count, int threads, const std::function<void(int)>& work) {
  std::atomic<int> next{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) work(i);
    });
  for (auto& thread : pool) thread.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

int main(int argc, char** argv) try {
  Args args = parse_args(argc, argv);
  cascade::registry::Options options;
  options.registries = {{args.registry, true, ""}};
  options.connections_per_host = static_cast<std::size_t>(args.threads);
  options.read_auth_config_env = false;
  cascade::registry::Client client(options);

  // One GET, then the same bytes PUT under every tag (a copy within one repository).
  auto manifest = client.get_manifest(image(args, args.source_tag));
  if (!manifest) throw std::runtime_error(manifest.error().str());
  const std::string* source = &manifest->digest;
  std::atomic<int> failures{0};
  double copy_seconds = parallel(args.tags, args.threads, [&](int i) {
    auto copied = client.put_manifest(image(args, tag_name(i)), *manifest);
    if (copied && *copied == *source) return;
    if (failures++ < 3) std::fprintf(stderr, "copy %s: %s\n", tag_name(i).c_str(), copied ? "digest differs" : copied.error().str().c_str());
  });
  std::size_t connections_before = client.connections_opened();
  std::atomic<int> mismatches{0};
  std::vector<double> rounds;
  for (int round = 0; round < args.rounds; ++round)
    rounds.push_back(parallel(args.tags, args.threads, [&](int i) {
      auto digest = client.resolve_digest(image(args, tag_name(i)));
      if (digest && *digest == *source) return;
      if (mismatches++ < 3) std::fprintf(stderr, "resolve %s: %s\n", tag_name(i).c_str(), digest ? digest->c_str() : digest.error().str().c_str());
    }));
  std::vector<double> sorted = rounds;
  std::sort(sorted.begin(), sorted.end());
  double resolve_seconds = sorted[sorted.size() / 2];
  std::printf("{\"tags\":%d,\"threads\":%d,\"digest\":\"%s\",\"copy_seconds\":%.4f,\"copy_failures\":%d,"
              "\"resolve_seconds\":%.4f,\"resolve_min_seconds\":%.4f,\"rounds\":%d,\"resolve_mismatches\":%d,\"connections\":%zu,\"resolve_connections\":%zu}\n",
              args.tags, args.threads, source->c_str(), copy_seconds, failures.load(), resolve_seconds, sorted.front(), args.rounds, mismatches.load(),
              client.connections_opened(), client.connections_opened() - connections_before);
  return failures || mismatches ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "registry_bench: %s\n", e.what());
  return 2;
}
