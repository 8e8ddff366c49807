// Headers, errors and URLs: the plain-data side of the HTTP module.
#include <boost/url.hpp>

#include <algorithm>
#include <cctype>

#include "internal.hpp"
#include "cascade/util/text.hpp"

namespace cascade::http {

namespace {

}  // namespace

void Headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& field) { return util::iequals(field.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [field, value] : fields_)
    if (util::iequals(field, name)) return value;
  return std::nullopt;
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [field, value] : fields_)
    if (util::iequals(field, name)) values.push_back(value);
  return values;
}

std::string Error::str() const {
  std::string text = step;
  if (!host.empty()) text += " " + host;
  return text + ": " + message;
}

std::string redact_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) return "<invalid url>";
  boost::urls::url copy(*parsed);
  copy.remove_userinfo();
  copy.remove_query();
  copy.remove_fragment();
  return std::string(copy.buffer());
}

namespace detail {

std::string Endpoint::host_port() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + port;
}

std::string Endpoint::authority() const {
  bool ipv6 = host.find(':') != std::string::npos;
  std::string name = ipv6 ? "[" + host + "]" : host;
  return explicit_port ? name + ":" + port : name;
}

Expected<Target, Error> parse_target(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return unexpected(Error{"url", "", "not an absolute URL: " + redact_url(url)});
  Target result;
  Endpoint& endpoint = result.endpoint;
  endpoint.scheme = util::lowercase(parsed->scheme());
  if (endpoint.scheme != "http" && endpoint.scheme != "https")
    return unexpected(Error{"url", "", "unsupported scheme \"" + endpoint.scheme + "\""});
  endpoint.host = parsed->host_address();
  if (endpoint.host.empty()) return unexpected(Error{"url", "", "no host in " + redact_url(url)});
  endpoint.explicit_port = parsed->has_port() && !parsed->port().empty();
  endpoint.port = endpoint.explicit_port ? std::string(parsed->port()) : (endpoint.tls() ? "443" : "80");
  result.target = std::string(parsed->encoded_target());
  if (result.target.empty() || result.target[0] != '/') result.target = "/" + result.target;
  return result;
}

std::string resolve_location(std::string_view base, std::string_view location) {
  auto base_url = boost::urls::parse_absolute_uri(base);
  auto reference = boost::urls::parse_uri_reference(location);
  if (!base_url || !reference) return {};
  boost::urls::url resolved;
  if (!boost::urls::resolve(*base_url, *reference, resolved)) return {};
  return std::string(resolved.buffer());
}

Error step_error(const std::string& step, const Endpoint& endpoint, const boost::system::error_code& ec,
                 std::chrono::milliseconds limit) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out)
    return Error{"timeout", endpoint.host_port(), step + " timed out after " + std::to_string(limit.count()) + " ms"};
  return Error{step, endpoint.host_port(), ec.message()};
}

}  // namespace detail
}  // namespace cascade::http
