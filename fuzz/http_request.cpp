// The HTTP server's request parsing: Beast's request_parser with the server's default
// header and body limits (http_server.hpp ServerOptions), fed the bytes in pieces as a
// socket would deliver them, then the target decoded as the server's decode_target does
// (src/http/server.cpp; internal, and that file does not compile with clang 14 under the
// sanitizers, so this is a copy of its logic).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <map>
#include <string>

#include "cascade/http_server.hpp"
#include "common.hpp"

namespace {
bool decode_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) parsed = boost::urls::parse_absolute_uri(target);
  if (!parsed) return false;
  path = parsed->path();
  if (path.empty()) path = "/";
  query.clear();
  for (auto param : parsed->params()) query[std::string(param.key)] = std::string(param.value);
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  namespace bhttp = boost::beast::http;
  using namespace cascade;
  static const http::ServerOptions defaults;
  if (size < 1) return 0;
  // First byte: the size of the pieces (1..256 bytes); the rest is the stream.
  std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
  std::string_view stream = fuzz::view(data + 1, size - 1);

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(defaults.header_limit));
  parser.body_limit(defaults.body_limit);
  parser.eager(true);
  std::string pending;
  boost::system::error_code ec;
  std::size_t offset = 0;
  while (!parser.is_done()) {
    if (offset >= stream.size()) break;
    std::size_t take = std::min(piece, stream.size() - offset);
    pending.append(stream.substr(offset, take));
    offset += take;
    std::size_t used = parser.put(boost::asio::buffer(pending), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      pending.erase(0, used);
      continue;
    }
    if (ec) return 0;
    pending.erase(0, used);
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  auto& message = parser.get();
  std::string method(message.method_string());
  std::string target(message.target());
  std::string path;
  std::map<std::string, std::string> query;
  if (!decode_target(target, path, query)) return 0;
  std::multimap<std::string, std::string> headers;
  for (const auto& field : message) headers.emplace(std::string(field.name_string()), std::string(field.value()));
  if (message.body().size() > defaults.body_limit) fuzz::violated("body over the limit accepted");
  (void)message.keep_alive();
  return 0;
}
