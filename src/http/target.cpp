// The request target of an incoming request, decoded once: path and query parameters from an
// origin-form or absolute-form target; anything else is refused as malformed.
#include "target.hpp"

#include <boost/url.hpp>

namespace cascade::http::detail {

bool decode_target(ServerRequest& request) {
  auto parsed = boost::urls::parse_origin_form(request.target);
  if (!parsed) parsed = boost::urls::parse_absolute_uri(request.target);  // a proxy-style target
  if (!parsed) return false;
  request.path = parsed->path();
  if (request.path.empty()) request.path.push_back('/');  // not = "/": GCC 12 warns falsely (-Wrestrict, PR 105329)
  request.query.clear();
  for (auto param : parsed->params()) request.query[std::string(param.key)] = std::string(param.value);
  return true;
}

}  // namespace cascade::http::detail
