// The HTTP server's request parsing: Beast's request_parser with the server's default
// header and body limits (http_server.hpp ServerOptions), fed the bytes in pieces as a
// socket would deliver them; then the server's decode_target (src/http/target.cpp) and the
// daemon's guards (src/daemon/api_guard.cpp: bearer token, content type, Host, log escaping)
// on the parsed request.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <string>

#include "api_guard.hpp"
#include "cascade/http_server.hpp"
#include "common.hpp"
#include "target.hpp"


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
  http::ServerRequest request;
  request.target = target;
  if (!http::detail::decode_target(request)) return 0;
  static const daemon::HostCheck hosts("127.0.0.1", {"cascade.example.com"});
  for (const auto& field : message) {
    std::string_view value(field.value().data(), field.value().size());
    switch (field.name()) {
      case bhttp::field::authorization:
        if (auto token = daemon::bearer_token(value)) (void)daemon::token_matches(*token, "fuzz-token");
        break;
      case bhttp::field::content_type: (void)daemon::is_json_type(value), (void)daemon::is_form_type(value); break;
      case bhttp::field::host: (void)hosts.allows(value, "127.0.0.1"); break;
      default: break;
    }
  }
  std::string logged = daemon::escape_controls(request.target + " " + method);
  for (char c : logged)
    if ((static_cast<unsigned char>(c) < 0x20 && c != ' ') || c == 0x7f) fuzz::violated("a control character in a log line");
  if (message.body().size() > defaults.body_limit) fuzz::violated("body over the limit accepted");
  (void)message.keep_alive();
  return 0;
}
