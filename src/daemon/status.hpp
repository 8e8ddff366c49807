// The HTTP status the API answers for an application failure: one table for every route
// and for the coordinator's settled triggers.
#pragma once

#include "cascade/app.hpp"

namespace cascade::daemon {

/// The HTTP status for a failure of kind `kind`.
int http_status(app::Failure::Kind kind);
/// The HTTP status for `failure` (its kind's).
int http_status(const app::Failure& failure);

}  // namespace cascade::daemon
