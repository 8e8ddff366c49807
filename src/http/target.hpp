// The request target of the server: origin form ("/path?query") or, as a proxy may send,
// absolute form; decoded with Boost.URL. Apart from the coroutine-heavy server files so the
// fuzzer (fuzz/http_request.cpp) links the very function the server runs.
#pragma once

#include "cascade/http_server.hpp"

namespace cascade::http::detail {

/// Fills path and query from `request.target`; false when the target is not a URL path.
bool decode_target(ServerRequest& request);

}  // namespace cascade::http::detail
