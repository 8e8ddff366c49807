// Pipeline YAML: pipeline::parse from text, with a fixed environment (no process state).
#include "cascade/pipeline.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  pipeline::Environment env;
  env.home = "/nonexistent/fuzz-home";
  // Every variable the file names is set, to one URL (so `notify:` and `approvers:` parse on).
  env.variable = [](const std::string&) -> std::optional<std::string> { return "https://hooks.invalid/fuzz"; };
  (void)pipeline::parse(fuzz::view(data, size), "fuzz.yaml", "/nonexistent/fuzz", env);
  return 0;
}
