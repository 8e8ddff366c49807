// The one table of failure kinds to HTTP statuses.
#include "status.hpp"

namespace cascade::daemon {

int http_status(app::Failure::Kind kind) {
  using Kind = app::Failure::Kind;
  switch (kind) {
    case Kind::bad_input: return 400;
    case Kind::not_found: return 404;
    case Kind::conflict: return 409;
    case Kind::unavailable: return 502;  // a peer of the daemon's (registry, engine, git) is away
    case Kind::failed: return 502;       // as the API has always answered a failed operation
  }
  return 500;
}

int http_status(const app::Failure& failure) { return http_status(failure.kind); }

}  // namespace cascade::daemon
