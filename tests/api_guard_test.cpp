// The daemon API's guards and pools in-process: bearer tokens, content types, Host names,
// the text log's escaping, the bounded worker pool, the shared inventory refresh and the
// HTTP status of each kind of application failure.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include "../src/daemon/internal.hpp"

using namespace cascade::daemon;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 10s) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

}  // namespace

TEST_CASE("daemon::bearer_token and token_matches") {
  SUBCASE("the scheme in any case (RFC 7235)") {
    CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("bearer abc") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("BEARER  abc ") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("Bearer\tabc") == std::optional<std::string_view>("abc"));
  }
  SUBCASE("another scheme, or no token") {
    CHECK_FALSE(bearer_token("Basic YTpi"));
    CHECK_FALSE(bearer_token("Bearer"));
    CHECK_FALSE(bearer_token("Bearer   "));
    CHECK_FALSE(bearer_token("Bearerabc"));
    CHECK_FALSE(bearer_token(""));
  }
  SUBCASE("tokens compare whole, whatever their lengths") {
    CHECK(token_matches("api-token", "api-token"));
    CHECK_FALSE(token_matches("api-toke", "api-token"));
    CHECK_FALSE(token_matches("api-token-", "api-token"));
    CHECK_FALSE(token_matches("", "api-token"));
    CHECK_FALSE(token_matches("", ""));  // no token configured matches nothing
    CHECK_FALSE(token_matches(std::string(10'000, 'a'), "api-token"));
  }
}

TEST_CASE("daemon::is_json_type") {
  CHECK(is_json_type("application/json"));
  CHECK(is_json_type("Application/JSON; charset=utf-8"));
  CHECK(is_json_type("application/vnd.docker.distribution.events.v1+json"));
  CHECK(is_json_type("application/cloudevents+json"));
  CHECK_FALSE(is_json_type("text/plain"));
  CHECK_FALSE(is_json_type("text/plain; a=application/json"));
  CHECK_FALSE(is_json_type("application/x-www-form-urlencoded"));
  CHECK_FALSE(is_json_type("multipart/form-data; boundary=x"));
  CHECK_FALSE(is_json_type("text/json+json"));
  CHECK_FALSE(is_json_type("application/+json"));
  CHECK_FALSE(is_json_type(""));
  CHECK(is_form_type("application/x-www-form-urlencoded; charset=utf-8"));
  CHECK_FALSE(is_form_type("text/plain"));
}

TEST_CASE("daemon::HostCheck") {
  HostCheck loopback("127.0.0.1", {"cascade.example.com"});
  CHECK(loopback.allows("127.0.0.1:8080", "127.0.0.1"));
  CHECK(loopback.allows("localhost:8080", "127.0.0.1"));
  CHECK(loopback.allows("LOCALHOST", "127.0.0.1"));
  CHECK(loopback.allows("[::1]:8080", "127.0.0.1"));
  CHECK(loopback.allows("cascade.example.com:8080", "127.0.0.1"));
  CHECK(loopback.allows("Cascade.Example.com", "127.0.0.1"));
  CHECK_FALSE(loopback.allows("attacker.example:8080", "127.0.0.1"));  // a DNS rebinding page
  CHECK_FALSE(loopback.allows("cascade.example.com.attacker.example", "127.0.0.1"));
  CHECK_FALSE(loopback.allows("", "127.0.0.1"));

  HostCheck any("0.0.0.0");
  CHECK(any.allows("10.1.2.3:8080", "10.1.2.3"));      // the address the client connected to
  CHECK_FALSE(any.allows("10.1.2.4:8080", "10.1.2.3"));
  HostCheck v6("::1");
  CHECK(v6.allows("[::1]:8080", "::1"));
  HostCheck named("build-01.internal");
  CHECK(named.allows("build-01.internal:8080", "10.0.0.5"));
}

TEST_CASE("daemon::escape_controls and the text log") {
  CHECK(escape_controls("plain text") == "plain text");
  CHECK(escape_controls("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(escape_controls("\x1b[31mred") == "\\x1b[31mred");
  CHECK(escape_controls("\x7f") == "\\x7f");
  CHECK(escape_controls("back\\slash") == "back\\\\slash");
  CHECK(escape_controls("\xc2\x9b" "2J") == "\\u009b2J");        // C1 CSI
  CHECK(escape_controls("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 passes
  CHECK(escape_controls("\xff\xc3") == "\\xff\\xc3");            // invalid bytes

  std::ostringstream out;
  Logger log(Logger::Format::text, out);
  log.info("http", {{"path", "/hooks/x\n2026-01-01T00:00:00.000Z error forged admin=1"}, {"status", 404},
                    {"remote", "\x1b]0;title\x07"}});
  std::string line = out.str();
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  CHECK(line.back() == '\n');
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line.find('\x07') == std::string::npos);
  CHECK(line.find("path=\"/hooks/x\\n2026-01-01T00:00:00.000Z error forged admin=1\"") != std::string::npos);
  CHECK(line.find("status=404") != std::string::npos);
}

TEST_CASE("daemon::Workers") {
  SUBCASE("a bounded queue: a job over the limit is refused, not queued") {
    Workers workers(1, 2);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> ran{0};
    std::atomic<bool> started{false};
    REQUIRE(workers.post({[&] {
                            started = true;
                            released.wait();
                            ++ran;
                          },
                          {}, Clock::time_point::max(), {}}));
    REQUIRE(eventually([&] { return started.load(); }));
    CHECK(workers.post({[&] { ++ran; }, {}, Clock::time_point::max(), {}}));
    CHECK(workers.post({[&] { ++ran; }, {}, Clock::time_point::max(), {}}));
    CHECK_FALSE(workers.post({[&] { ++ran; }, {}, Clock::time_point::max(), {}}));
    release.set_value();
    CHECK(eventually([&] { return ran == 3; }));
  }
  SUBCASE("a job whose deadline passed or whose client is gone is dropped, not run") {
    Workers workers(1, 8);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> ran{0}, dropped{0};
    std::atomic<bool> gone{false};
    REQUIRE(workers.post({[&] { released.wait(); }, {}, Clock::time_point::max(), {}}));
    REQUIRE(workers.post({[&] { ++ran; }, [&] { ++dropped; }, Clock::now() + 50ms, {}}));
    REQUIRE(workers.post({[&] { ++ran; }, [&] { ++dropped; }, Clock::time_point::max(), [&] { return gone.load(); }}));
    REQUIRE(workers.post({[&] { ++ran; }, [&] { ++dropped; }, Clock::time_point::max(), {}}));
    std::this_thread::sleep_for(100ms);
    gone = true;
    release.set_value();
    CHECK(eventually([&] { return ran + dropped == 3; }));
    CHECK(ran == 1);
    CHECK(dropped == 2);
    CHECK(workers.dropped() == 2);
  }
  SUBCASE("stop drops what waits, lets the running job finish, joins, and refuses later jobs") {
    auto workers = std::make_unique<Workers>(1, 8);
    std::atomic<bool> started{false}, finished{false};
    std::atomic<int> dropped{0};
    REQUIRE(workers->post({[&] {
                             started = true;
                             std::this_thread::sleep_for(200ms);
                             finished = true;
                           },
                           {}, Clock::time_point::max(), {}}));
    REQUIRE(workers->post({[] {}, [&] { ++dropped; }, Clock::time_point::max(), {}}));
    REQUIRE(eventually([&] { return started.load(); }));
    workers->stop();
    CHECK(finished);
    CHECK(dropped == 1);
    CHECK_FALSE(workers->post({[] {}, {}, Clock::time_point::max(), {}}));
    workers.reset();  // a second stop
  }
}

TEST_CASE("daemon::InventoryCache") {
  std::atomic<int> calls{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  InventoryCache cache(
      [&]() -> InventoryCache::Result {
        int call = ++calls;
        if (call == 1) released.wait();  // a slow deploy target
        return nlohmann::json{{"call", call}};
      },
      200ms, 3);
  std::mutex mutex;
  std::vector<int> answers;
  auto record = [&](const InventoryCache::Result& result, std::chrono::seconds) {
    std::lock_guard lock(mutex);
    answers.push_back(result ? (*result)["call"].get<int>() : -1);
  };
  // Concurrent callers share one refresh; more than max_waiting are refused.
  CHECK(cache.get(record));
  CHECK(cache.get(record));
  CHECK(cache.get(record));
  CHECK_FALSE(cache.get(record));
  release.set_value();
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return answers.size() == 3;
  }));
  CHECK(answers == std::vector<int>{1, 1, 1});
  CHECK(cache.fetches() == 1);
  // Fresh: answered at once from the cache, no refresh.
  CHECK(cache.get(record));
  CHECK(answers.size() == 4);
  CHECK(cache.fetches() == 1);
  // Stale: answered at once with the old result while one refresh runs.
  std::this_thread::sleep_for(300ms);
  CHECK(cache.get(record));
  CHECK(answers.back() == 1);
  CHECK(eventually([&] {
    bool taken = cache.get(record);
    std::lock_guard lock(mutex);
    return taken && answers.back() == 2;
  }));
  CHECK(cache.fetches() == 2);
}

TEST_CASE("daemon::http_status: one HTTP status per failure kind") {
  using cascade::app::Failure;
  using Kind = Failure::Kind;
  CHECK(http_status(Kind::bad_input) == 400);
  CHECK(http_status(Kind::not_found) == 404);
  CHECK(http_status(Kind::conflict) == 409);
  CHECK(http_status(Kind::unavailable) == 502);
  CHECK(http_status(Kind::failed) == 502);
  CHECK(http_status(Failure::not_found("no run 999")) == 404);
  CHECK(http_status(Failure::peer("cannot resolve x: 503", true)) == 502);
  CHECK(Failure::peer("cannot resolve x: 503", true).transient());
  CHECK_FALSE(Failure::peer("cannot resolve x: unauthorized", false).transient());
  CHECK(http_status(Failure{}) == 502);
}
