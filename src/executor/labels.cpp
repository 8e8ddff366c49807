#include <nlohmann/json.hpp>

#include "cascade/executor.hpp"

namespace cascade::executor {

std::map<std::string, std::string> built_on(const std::map<std::string, std::string>& labels) {
  std::map<std::string, std::string> bases;
  if (auto found = labels.find(kLabelBases); found != labels.end()) {
    auto parsed = nlohmann::json::parse(found->second, nullptr, false);
    if (parsed.is_object())
      for (const auto& [image, digest] : parsed.items())
        if (digest.is_string()) bases[image] = digest.get<std::string>();
    if (!bases.empty()) return bases;
  }
  auto name = labels.find(kLabelBaseName);
  auto digest = labels.find(kLabelBaseDigest);
  if (name != labels.end() && digest != labels.end()) {
    auto parsed = reference::parse(name->second);
    bases[parsed ? parsed->without_digest().str() : name->second] = digest->second;
  }
  return bases;
}

}  // namespace cascade::executor
