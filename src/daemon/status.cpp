#include "status.hpp"

namespace cascade::daemon {

int http_status(app::Failure::Kind kind) {
  return kind == app::Failure::Kind::bad_input ? 400 : 502;
}

int http_status(const app::Failure& failure) { return failure.exit_code == 2 ? 400 : 502; }

}  // namespace cascade::daemon
