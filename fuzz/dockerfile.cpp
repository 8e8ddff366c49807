// Dockerfiles: analyze (lexer, ARG substitution, instructions, stages) with fuzzed build
// args and target, then pin the first use (rewriting and re-analyzing).
#include <map>
#include <string>

#include "cascade/dockerfile.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  FuzzedDataProvider in(data, size);
  dockerfile::Options options;
  int args = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < args; ++i) {
    std::string key = in.ConsumeRandomLengthString(16);
    options.build_args[key] = in.ConsumeRandomLengthString(64);
  }
  if (in.ConsumeBool()) options.target = in.ConsumeRandomLengthString(16);
  std::string text = in.ConsumeRemainingBytesAsString();
  auto analysis = dockerfile::analyze(text, options);
  if (!analysis) return 0;
  if (analysis->uses.empty()) return 0;
  std::map<std::string, std::string> pins;
  pins[analysis->uses.front().image.str()] =
      "docker.io/library/pinned@sha256:0000000000000000000000000000000000000000000000000000000000000000";
  (void)dockerfile::pin(text, options, pins);
  return 0;
}
