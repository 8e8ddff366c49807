// OSV advisories: advisory::parse_osv, then evaluate() of each parsed advisory against a
// package of each of its ecosystems' distributions.
#include "cascade/advisory.hpp"
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  auto parsed = advisory::parse_osv(fuzz::view(data, size));
  if (!parsed) {
    (void)parsed.error().str();
    return 0;
  }
  static const packages::OsRelease systems[] = {
      {"debian", "12", "", "", ""}, {"alpine", "3.20.3", "", "", ""}, {"ubuntu", "24.04", "", "debian", ""},
      {"rocky", "9.4", "", "rhel", ""}};
  static constexpr packages::Format formats[] = {packages::Format::dpkg, packages::Format::apk,
                                                  packages::Format::dpkg, packages::Format::rpm};
  for (const auto& advisory : *parsed)
    for (const auto& affected : advisory.affected)
      for (std::size_t i = 0; i < 4; ++i) {
        packages::Package package{affected.package, "1.2.3-1", affected.package, "1.2.3-1", "amd64"};
        (void)advisory::evaluate(advisory, systems[i], formats[i], package);
      }
  return 0;
}
