// What a docker target accepts without TLS verification: a plain tcp:// engine endpoint and an
// unverified https health probe only when the target says `insecure`. Real peers: a TLS
// docker-registry with a self-signed certificate stands in for a probed https service.
#include <doctest/doctest.h>

#include "../src/deploy/internal.hpp"
#include "cascade/deploy.hpp"
#include "registry_fixture.hpp"

using namespace cascade;

TEST_CASE("deploy::docker a tcp:// endpoint without TLS needs insecure") {
  deploy::DockerOptions options;
  options.endpoint = "tcp://127.0.0.1:" + std::to_string(test::free_port());  // nobody listens
  auto refused = deploy::DockerTarget::connect(options);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == deploy::ErrorKind::invalid);  // before: tried plain http (connection)
  CHECK(refused.error().str().find("without TLS") != std::string::npos);
  options.insecure = true;  // accepted: the attempt reaches the (absent) engine
  auto tried = deploy::DockerTarget::connect(options);
  REQUIRE_FALSE(tried);
  CHECK(tried.error().kind == deploy::ErrorKind::connection);
}

TEST_CASE("deploy::docker a tcp:// endpoint with user information is refused without repeating it") {
  deploy::DockerOptions options;
  options.endpoint = "tcp://ci:s3cr3t-t0ken@127.0.0.1:2376";
  options.tls = true;
  auto refused = deploy::DockerTarget::connect(options);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == deploy::ErrorKind::invalid);  // before: sent to host "ci:s3cr3t-t0ken@127.0.0.1:2376"
  CHECK(refused.error().str().find("s3cr3t") == std::string::npos);
}

TEST_CASE("deploy::probe_client verifies an https probe unless insecure") {
  test::TempDir dir;
  test::DockerRegistry service({}, test::make_certificate(dir.path()));  // self-signed: not in the system roots
  std::string url = "https://" + service.host() + "/v2/";
  auto verified = deploy::detail::probe_client(url, std::chrono::seconds(30), false)->request(http::Request{"GET", url, {}, {}});
  CHECK_FALSE(verified);  // before: every probe skipped verification and this answered 200
  auto unverified = deploy::detail::probe_client(url, std::chrono::seconds(30), true)->request(http::Request{"GET", url, {}, {}});
  REQUIRE_MESSAGE(unverified, unverified.error().str());
  CHECK(unverified->status == 200);
  std::string plain = "http://127.0.0.1:" + std::to_string(test::free_port()) + "/";  // plain http stays allowed
  auto refused = deploy::detail::probe_client(plain, std::chrono::seconds(30), false)->request(http::Request{"GET", plain, {}, {}});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().str().find("plain http refused") == std::string::npos);
}
