// Error kinds, their text, and mapping HTTP outcomes (failures, statuses, error bodies) to them.
#include <nlohmann/json.hpp>

#include "internal.hpp"

namespace cascade::registry {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return "not found";
    case ErrorKind::unauthorized: return "unauthorized";
    case ErrorKind::denied: return "denied";
    case ErrorKind::rate_limited: return "rate limited";
    case ErrorKind::transient: return "transient";
    case ErrorKind::network: return "network";
    case ErrorKind::tls: return "tls";
    case ErrorKind::invalid: return "invalid";
  }
  return "invalid";
}

bool Error::transient() const {
  return kind == ErrorKind::rate_limited || kind == ErrorKind::transient || kind == ErrorKind::network;
}

std::string Error::str() const {
  std::string text = registry.empty() ? std::string() : registry + ": ";
  text += std::string(to_string(kind)) + ": " + message;
  if (!code.empty()) text += " (" + code + ")";
  return text;
}

namespace detail {

Error from_http_error(const std::string& registry, const http::Error& failure) {
  ErrorKind kind = ErrorKind::network;
  if (failure.step == "handshake") kind = ErrorKind::tls;
  else if (failure.step == "url" || failure.step == "redirect") kind = ErrorKind::invalid;
  return Error{kind, registry, failure.str(), "", 0};
}

bool retryable_status(int status) { return status == 408 || status == 429 || (status >= 500 && status != 501); }

namespace {

ErrorKind kind_of_status(int status) {
  if (status == 404) return ErrorKind::not_found;
  if (status == 401) return ErrorKind::unauthorized;
  if (status == 403) return ErrorKind::denied;
  if (status == 429) return ErrorKind::rate_limited;
  if (retryable_status(status)) return ErrorKind::transient;
  return ErrorKind::invalid;
}

// The first {"errors":[{"code","message"}]} entry, when the body has one.
std::pair<std::string, std::string> error_entry(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("errors") || !json["errors"].is_array() || json["errors"].empty()) return {};
  const auto& first = json["errors"][0];
  if (!first.is_object()) return {};
  std::string code = first.value("code", "");
  std::string message = first.contains("message") && first["message"].is_string() ? first["message"].get<std::string>() : "";
  return {code, message};
}

}  // namespace

Error from_status(const std::string& registry, const http::Response& response, const std::string& what) {
  Error error{kind_of_status(response.status), registry, "", "", response.status};
  auto [code, message] = error_entry(response.body);
  error.code = code;
  error.message = what + ": HTTP " + std::to_string(response.status);
  if (!message.empty()) error.message += " " + message;
  if (response.status == 429) {
    if (auto after = response.headers.get("Retry-After")) error.message += " (Retry-After " + *after + ")";
  }
  return error;
}

}  // namespace detail
}  // namespace cascade::registry
