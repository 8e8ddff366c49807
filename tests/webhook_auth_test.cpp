// Webhook authentication: the GitHub HMAC test vector, signatures right, wrong, missing and
// malformed, every token form, both together, neither; no reason ever holds a secret.
#include "webhook_support.hpp"

using namespace webhook_test;

TEST_CASE("webhook::hmac_sha256_hex and constant_time_equal") {
  CHECK(wh::hmac_sha256_hex("It's a Secret to Everybody", "Hello, World!") ==
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  CHECK(wh::hmac_sha256_hex("", "").size() == 64);
  CHECK(wh::constant_time_equal("abc", "abc"));
  CHECK(wh::constant_time_equal("", ""));
  CHECK_FALSE(wh::constant_time_equal("abc", "abd"));
  CHECK_FALSE(wh::constant_time_equal("abc", "abcd"));
}

TEST_CASE("webhook::authenticate") {
  const std::string secret = "It's a Secret to Everybody";
  const std::string token = "9f8e7d6c5b4a-token";
  const std::string good_signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  std::vector<std::string> reasons;  // every rejection, checked for leaks at the end
  const auto reject = [&](const wh::HookConfig& config, const Request& request) {
    auto result = wh::authenticate(config, request.delivery());
    REQUIRE_FALSE(result);
    CHECK(result.error().status == 401);
    reasons.push_back(result.error().reason);
    return result.error().reason;
  };
  const auto accept = [](const wh::HookConfig& config, const Request& request) {
    auto result = wh::authenticate(config, request.delivery());
    INFO("rejected: ", result ? std::string() : result.error().reason);
    CHECK(result);
  };

  SUBCASE("GitHub's signature over the raw body") {
    wh::HookConfig config = config_for(wh::Sender::github);
    config.secret = secret;
    Request request{"Hello, World!"};
    accept(config, Request(request).with("X-Hub-Signature-256", good_signature));
    std::string upper_hex = good_signature;
    for (std::size_t i = 7; i < upper_hex.size(); ++i) upper_hex[i] = static_cast<char>(std::toupper(upper_hex[i]));
    accept(config, Request(request).with("X-Hub-Signature-256", upper_hex));

    std::string flipped = good_signature;
    flipped.back() = flipped.back() == '7' ? '8' : '7';
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", flipped)).find("does not match") !=
          std::string::npos);
    CHECK(reject(config, Request{"Hello, World?"}.with("X-Hub-Signature-256", good_signature))
              .find("does not match") != std::string::npos);
    CHECK(reject(config, request) == "missing X-Hub-Signature-256");
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", "sha1=" + good_signature.substr(7)))
              .starts_with("malformed X-Hub-Signature-256"));
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", good_signature.substr(7)))
              .starts_with("malformed X-Hub-Signature-256"));
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", good_signature.substr(0, 70)))
              .starts_with("malformed X-Hub-Signature-256"));
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", good_signature + "00"))
              .starts_with("malformed X-Hub-Signature-256"));
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", "sha256=" + std::string(64, 'g')))
              .starts_with("malformed X-Hub-Signature-256"));
  }
  SUBCASE("generic signs with X-Cascade-Signature-256") {
    wh::HookConfig config = config_for(wh::Sender::generic);
    config.secret = secret;
    const std::string body = R"({"image": "acme/app:1"})";
    const std::string signature = "sha256=" + wh::hmac_sha256_hex(secret, body);
    accept(config, Request{body}.with("X-Cascade-Signature-256", signature));
    CHECK(reject(config, Request{body}.with("X-Hub-Signature-256", signature)) == "missing X-Cascade-Signature-256");
  }
  SUBCASE("a token in each accepted form") {
    wh::HookConfig config = config_for(wh::Sender::harbor);
    config.token = token;
    accept(config, Request{"{}"}.with("Authorization", "Bearer " + token));
    accept(config, Request{"{}"}.with("Authorization", "bearer " + token));
    accept(config, Request{"{}"}.with("Authorization", token));  // Harbor's verbatim auth header
    accept(config, Request{"{}"}.with("X-Cascade-Token", token));
    Request by_query{"{}"};
    by_query.query["token"] = token;
    accept(config, by_query);
    // A wrong Authorization does not spoil a right X-Cascade-Token.
    accept(config, Request{"{}"}.with("Authorization", "Basic xyz").with("X-Cascade-Token", token));
  }
  SUBCASE("a wrong or missing token") {
    wh::HookConfig config = config_for(wh::Sender::distribution);
    config.token = token;
    CHECK(reject(config, Request{"{}"}.with("Authorization", "Bearer " + token + "x")) == "token does not match");
    CHECK(reject(config, Request{"{}"}.with("Authorization", "Bearer " + token.substr(1))) == "token does not match");
    CHECK(reject(config, Request{"{}"}.with("X-Cascade-Token", "")) == "token does not match");
    Request by_query{"{}"};
    by_query.query["token"] = "guess";
    CHECK(reject(config, by_query) == "token does not match");
    CHECK(reject(config, Request{"{}"}).starts_with("missing token"));
  }
  SUBCASE("with a secret and a token both must pass") {
    wh::HookConfig config = config_for(wh::Sender::github);
    config.secret = secret;
    config.token = token;
    Request request{"Hello, World!"};
    accept(config, Request(request).with("X-Hub-Signature-256", good_signature).with("X-Cascade-Token", token));
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", good_signature)).starts_with("missing token"));
    CHECK(reject(config, Request(request).with("X-Cascade-Token", token)) == "missing X-Hub-Signature-256");
    CHECK(reject(config, Request(request).with("X-Hub-Signature-256", good_signature).with("X-Cascade-Token", "no")) ==
          "token does not match");
  }
  SUBCASE("with neither, only `unauthenticated` lets a delivery through") {
    wh::HookConfig config = config_for(wh::Sender::dockerhub);
    CHECK(reject(config, Request{"{}"}.with("Authorization", "Bearer anything")) ==
          "this webhook has no token or secret configured");
    config.unauthenticated = true;
    accept(config, Request{"{}"});
  }
  SUBCASE("unauthenticated does not waive a configured token") {
    wh::HookConfig config = config_for(wh::Sender::quay);
    config.unauthenticated = true;
    config.token = token;
    reject(config, Request{"{}"});
  }

  for (const auto& reason : reasons) {
    CAPTURE(reason);
    CHECK(reason.find(secret) == std::string::npos);
    CHECK(reason.find(token) == std::string::npos);
    CHECK(reason.find("757107ea") == std::string::npos);
    CHECK(reason.find("9f8e7d") == std::string::npos);
  }
}
