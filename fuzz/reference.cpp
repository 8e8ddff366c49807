// Image references: parse, the derived forms, and the round trip of the normalized form.
#include "cascade/reference.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  std::string_view text = fuzz::view(data, size);
  (void)reference::validate_digest(text);
  auto parsed = reference::parse(text);
  if (!parsed) {
    if (parsed.error().position > size) fuzz::violated("error position past the end of the input");
    return 0;
  }
  const reference::Reference& ref = *parsed;
  std::string normal = ref.str();
  (void)ref.familiar();
  (void)ref.repository();
  (void)ref.without_digest().str();
  auto again = reference::parse(normal);
  if (!again) fuzz::violated("the normalized form of a parsed reference does not parse");
  if (again->str() != normal) fuzz::violated("normalizing is not idempotent");
  return 0;
}
