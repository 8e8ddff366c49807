// Webhook deliveries: authenticate() and decode() of every sender. The first bytes choose
// the sender and the config; then up to four "Name: value" header lines and a blank line,
// then the body.
#include <map>
#include <optional>
#include <string>

#include "cascade/webhook.hpp"
#include "common.hpp"

namespace {
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace cascade;
  if (size < 2) return 0;
  const auto& senders = webhook::all_senders();
  webhook::HookConfig config;
  config.sender = senders[data[0] % senders.size()];
  unsigned flags = data[1];
  if (flags & 1) config.token = "fuzz-token";
  if (flags & 2) config.secret = "fuzz-secret";
  if (flags & 4) config.registry = "127.0.0.1:5000";
  config.unauthenticated = (flags & 8) != 0;
  std::string_view rest = fuzz::view(data + 2, size - 2);

  std::multimap<std::string, std::string> headers;
  std::map<std::string, std::string> query;
  for (int i = 0; i < 4; ++i) {
    auto end = rest.find('\n');
    if (end == std::string_view::npos) break;
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::string value(line.substr(colon + 1));
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "?token") query["token"] = value;
    else headers.emplace(std::move(name), std::move(value));
  }
  webhook::Delivery delivery;
  delivery.body = rest;
  delivery.header = [&headers](std::string_view name) -> std::optional<std::string> {
    for (const auto& [key, value] : headers)
      if (iequal(key, name)) return value;
    return std::nullopt;
  };
  delivery.query = query;
  (void)webhook::authenticate(config, delivery);
  auto decoded = webhook::decode(config, delivery);
  if (decoded)
    for (const auto& event : decoded->events) (void)event.image();
  return 0;
}
