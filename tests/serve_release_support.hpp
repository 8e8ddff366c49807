// Helpers of the daemon-level release-control tests (serve_release_test.cpp): the triggers
// section with the API token and an approver, patching and deciding through the API, ISO time
// stamps, and a webhook receiver on 127.0.0.1 (cascade's http::Server) that answers 503 to its
// first requests and records every one, with an HMAC-SHA256 computed by OpenSSL on its own.
#pragma once

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cascade/http_server.hpp"
#include "release_support.hpp"
#include "serve_fixture.hpp"

namespace cascade::test::serve_release {

inline constexpr const char* kApiToken = "api-token-7Qv";
inline constexpr const char* kAliceToken = "alice-token-J2x";

/// The triggers section: listen on `port`, no debounce, the API token and one approver (alice).
inline std::string triggers(int port) {
  return "triggers:\n  listen: 127.0.0.1:" + std::to_string(port) +
         "\n  debounce: 0s\n  api_token_env: CASCADE_API_TOKEN\n"
         "  approvers:\n    - {name: alice, token_env: ALICE_TOKEN}\n";
}

/// The daemon's environment for triggers(), plus `more`.
inline std::map<std::string, std::string> tokens(std::map<std::string, std::string> more = {}) {
  more["CASCADE_API_TOKEN"] = kApiToken;
  more["ALICE_TOKEN"] = kAliceToken;
  return more;
}

inline std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

/// POST /api/patch {"image": image} with the API token; returns the run's id.
inline long long patch(ServeProcess& serve, const std::string& image) {
  auto posted = serve.post("/api/patch", nlohmann::json{{"image", image}}.dump(), bearer(kApiToken));
  REQUIRE(posted);
  REQUIRE_MESSAGE(posted->status == 202, posted->body);
  return nlohmann::json::parse(posted->body)["run"].get<long long>();
}

inline bool final_state(const nlohmann::json& run) {
  return run["state"] == "succeeded" || run["state"] == "failed" || run["state"] == "interrupted";
}

/// Waits until run `id` awaits its release with `target/workload` held saying `detail` (a prefix).
inline nlohmann::json wait_held(ServeProcess& serve, long long id, const std::string& release, const std::string& detail,
                                std::chrono::seconds timeout = std::chrono::seconds(180)) {
  return serve.wait_for(
      "/api/runs/" + std::to_string(id),
      [&](const nlohmann::json& run) {
        if (run["state"] != "awaiting") return false;
        auto releases = releases_of(run);
        return releases.count(release) && releases[release]["state"] == "held" &&
               releases[release]["detail"].get<std::string>().rfind(detail, 0) == 0;
      },
      timeout);
}

/// Lower-case hex HMAC-SHA256 of `data` under `key`, by OpenSSL (independent of cascade).
inline std::string openssl_hmac_hex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

/// A webhook receiver on 127.0.0.1: answers 503 to its first `failures` requests, then 200;
/// records every request with its answer and when it came.
class FlakyReceiver {
 public:
  struct Request {
    std::string target;
    http::Headers headers;
    std::string body;
    int answered = 0;
    std::chrono::steady_clock::time_point at;
  };

  explicit FlakyReceiver(int failures) : failures_(failures) {
    http::ServerOptions options;
    auto server = http::Server::start(options, [this](http::ServerRequest&& request, http::Respond respond) {
      int answer = 200;
      {
        std::lock_guard lock(mutex_);
        answer = static_cast<int>(received_.size()) < failures_ ? 503 : 200;
        received_.push_back({request.target, request.headers, request.body, answer, std::chrono::steady_clock::now()});
      }
      respond(http::ServerResponse::text(answer, answer == 200 ? "ok" : "down for a moment"));
    });
    REQUIRE_MESSAGE(server, (server ? "" : server.error()));
    server_ = std::move(*server);
  }
  ~FlakyReceiver() { server_->stop(std::chrono::milliseconds(0)); }
  FlakyReceiver(const FlakyReceiver&) = delete;
  FlakyReceiver& operator=(const FlakyReceiver&) = delete;

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_->port()) + path; }
  std::vector<Request> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  /// The X-Cascade-Event of every request answered 200, in order.
  std::vector<std::string> accepted_events() const {
    std::vector<std::string> events;
    for (const auto& request : received())
      if (request.answered == 200) events.push_back(request.headers.get("X-Cascade-Event").value_or("?"));
    return events;
  }

 private:
  int failures_;
  std::unique_ptr<http::Server> server_;
  mutable std::mutex mutex_;
  std::vector<Request> received_;
};

}  // namespace cascade::test::serve_release
