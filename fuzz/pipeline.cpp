// Pipeline YAML: pipeline::parse from text, with a fixed environment (no process state).
#include "cascade/pipeline.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  pipeline::Environment env;
  env.home = "/nonexistent/fuzz-home";
  (void)pipeline::parse(fuzz::view(data, size), "fuzz.yaml", "/nonexistent/fuzz", env);
  return 0;
}
