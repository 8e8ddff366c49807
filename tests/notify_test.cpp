// notify: the event's JSON and Slack forms, destination filters, the backoff, and deliveries
// from the real SQLite outbox to a real HTTP receiver on 127.0.0.1 (cascade's http::Server,
// recording every request, told to answer 503 or stopped for a while) and to real commands,
// over a simulated clock.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "cascade/notify.hpp"
#include "cascade/util/time.hpp"
#include "http_server_support.hpp"
#include "store_support.hpp"
#include "support.hpp"

namespace notify = cascade::notify;
namespace pipeline = cascade::pipeline;
namespace st = cascade::store;
using cascade::test::ok;
using cascade::test::TempDir;
using json = nlohmann::json;

namespace {

struct Received {
  std::string target;  // path and query as sent
  cascade::http::Headers headers;
  std::string body;
  int answered = 0;
};

// An HTTP receiver on 127.0.0.1 that records every request. It answers `status`; a failure
// answer echoes the request target and body (a peer that repeats the URL it was called with).
class Receiver {
 public:
  explicit Receiver(std::uint16_t port = 0) { start(port); }

  void start(std::uint16_t port) {
    ServerOptions options;
    options.port = port;
    server_ = http_server_test::start(options, [this](ServerRequest&& request, Respond respond) {
      int answer = status.load();
      {
        std::lock_guard lock(mutex_);
        received_.push_back({request.target, request.headers, request.body, answer});
      }
      respond(answer == 200 ? ServerResponse::text(200, "ok")
                            : ServerResponse::text(answer, "cannot take " + request.target + " " + request.body));
    });
    port_ = server_->port();
  }
  void stop() {
    server_->stop(0ms);
    server_.reset();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::uint16_t port() const { return port_; }
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  /// X-Cascade-Delivery of every request answered 2xx, in order.
  std::vector<std::string> accepted_ids() const {
    std::vector<std::string> ids;
    for (const Received& r : received())
      if (r.answered == 200) ids.push_back(r.headers.get("X-Cascade-Delivery").value_or("?"));
    return ids;
  }

  std::atomic<int> status{200};

 private:
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<Received> received_;
};

// A simulated clock a minute ahead of the real one (so everything enqueue stores is due).
struct SimClock {
  st::Time base = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()) + 1min;
  std::shared_ptr<std::atomic<std::int64_t>> offset = std::make_shared<std::atomic<std::int64_t>>(0);
  std::function<st::Time()> function() const {
    return [base = base, offset = offset] { return base + std::chrono::milliseconds(offset->load()); };
  }
  st::Time now() const { return base + std::chrono::milliseconds(offset->load()); }
  void advance(std::chrono::milliseconds by) { *offset += by.count(); }
};

notify::Deliverer::Environment environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    return found == variables.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

notify::Event event(const std::string& id, const std::string& kind, std::vector<std::string> images = {},
                    st::RunId run = 7) {
  return {id, kind, run, "cascade run " + std::to_string(run) + ": " + kind, std::move(images), json::object()};
}

pipeline::Notify webhook(const std::string& name, const std::string& url_env, const std::string& secret_env = "") {
  pipeline::Notify destination;
  destination.kind = pipeline::Notify::Kind::webhook;
  destination.name = name;
  destination.url_env = url_env;
  destination.secret_env = secret_env;
  destination.timeout = 3s;
  return destination;
}

pipeline::Notify command(const std::string& name, std::vector<std::string> argv) {
  pipeline::Notify destination;
  destination.kind = pipeline::Notify::Kind::command;
  destination.name = name;
  destination.argv = std::move(argv);
  destination.timeout = 5s;
  return destination;
}

// HMAC-SHA256 through OpenSSL, independently of cascade's webhook module.
std::string openssl_hmac_hex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

st::Notification stored(st::Store& store, const std::string& destination, const std::string& event_id) {
  for (const st::Notification& n : ok(store.list_notifications(destination)))
    if (n.event_id == event_id) return n;
  FAIL("no notification " << destination << "/" << event_id);
  return {};
}

// An executable sh script (run by argv, as any command destination).
std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  auto path = dir / name;
  cascade::test::write_file(path, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

}  // namespace

TEST_CASE("notify::payload and notify::slack_payload") {
  notify::Event e = event("run-4-finished", "run-finished", {"127.0.0.1:5000/apps/web:1"}, 4);
  e.details = {{"summary", {{"pushed", 3}, {"failed", 1}, {"skipped", 0}}}, {"id", "not-the-id"}, {"reason", "x"}};
  st::Time at = std::chrono::sys_days{std::chrono::year{2026} / 11 / 28} + 5h + 22min + 36s + 123ms;

  SUBCASE("the event's fields, the details at the top level, the fixed fields winning") {
    json body = notify::payload(e, at);
    CHECK(body == json{{"id", "run-4-finished"},
                       {"event", "run-finished"},
                       {"run", 4},
                       {"text", "cascade run 4: run-finished"},
                       {"images", {"127.0.0.1:5000/apps/web:1"}},
                       {"at", "2026-11-28T05:22:36.123Z"},
                       {"summary", {{"pushed", 3}, {"failed", 1}, {"skipped", 0}}},
                       {"reason", "x"}});
  }
  SUBCASE("slack: only a text, the event's own line with &, < and > escaped") {
    e.text = "run 4 <failed> & rolled back";
    CHECK(notify::slack_payload(e) == json{{"text", "run 4 &lt;failed&gt; &amp; rolled back"}});
  }
  SUBCASE("slack: without a text, a line of its own; for run-finished the non-zero counts") {
    e.text.clear();
    CHECK(notify::slack_payload(e) == json{{"text", "cascade run 4 finished: 3 pushed, 1 failed"}});
    e.kind = "quarantined";
    CHECK(notify::slack_payload(e) == json{{"text", "cascade run 4: quarantined"}});
  }
}

TEST_CASE("notify::wants") {
  pipeline::Notify destination = webhook("hook", "URL");
  notify::Event started = event("e1", "run-started", {"127.0.0.1:5000/apps/web:1"});
  notify::Event quarantined =
      event("e2", "quarantined", {"127.0.0.1:5000/base/debian@sha256:" + std::string(64, 'a')});
  notify::Event finished = event("e3", "run-finished");

  SUBCASE("no filter: everything") {
    for (const auto& e : {started, quarantined, finished}) CHECK(notify::wants(destination, e));
  }
  SUBCASE("events: only the named ones") {
    destination.events = {"run-finished", "quarantined"};
    CHECK_FALSE(notify::wants(destination, started));
    CHECK(notify::wants(destination, quarantined));
    CHECK(notify::wants(destination, finished));
  }
  SUBCASE("images: globs on the repository (tag and digest left out); an event about no image passes") {
    destination.images = {"127.0.0.1:5000/apps/*"};
    CHECK(notify::wants(destination, started));
    CHECK_FALSE(notify::wants(destination, quarantined));
    CHECK(notify::wants(destination, finished));
    destination.images = {"127.0.0.1:5000/base/debian"};
    CHECK(notify::wants(destination, quarantined));
    destination.images = {"**/debian:*"};  // a tag is no part of the repository
    CHECK_FALSE(notify::wants(destination, quarantined));
  }
  SUBCASE("both filters must pass") {
    destination.events = {"quarantined"};
    destination.images = {"127.0.0.1:5000/apps/**"};
    CHECK_FALSE(notify::wants(destination, quarantined));
    CHECK_FALSE(notify::wants(destination, started));
  }
}

TEST_CASE("notify::backoff") {
  CHECK(notify::backoff(0) == 1s);
  CHECK(notify::backoff(1) == 1s);
  CHECK(notify::backoff(2) == 2s);
  CHECK(notify::backoff(3) == 4s);
  CHECK(notify::backoff(9) == 256s);
  CHECK(notify::backoff(10) == 5min);
  CHECK(notify::backoff(1'000'000) == 5min);
}

TEST_CASE("notify: enqueue stores one notification per wanting destination, once per event") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  pipeline::Notify all = webhook("all", "URL");
  pipeline::Notify finished_only = webhook("finished-only", "URL");
  finished_only.events = {"run-finished"};
  pipeline::Notify apps = webhook("apps", "URL");
  apps.images = {"127.0.0.1:5000/apps/**"};
  std::vector<pipeline::Notify> destinations = {all, finished_only, apps};

  ok(notify::enqueue(*store, destinations, event("e1", "run-started", {"127.0.0.1:5000/apps/web:1"})));
  ok(notify::enqueue(*store, destinations, event("e2", "quarantined", {"127.0.0.1:5000/base/debian:12"})));
  ok(notify::enqueue(*store, destinations, event("e3", "run-finished")));
  ok(notify::enqueue(*store, destinations, event("e3", "run-finished")));  // again: no-op

  auto ids = [&](const std::string& destination) {
    std::vector<std::string> result;
    for (const auto& n : ok(store->list_notifications(destination))) result.push_back(n.event_id);
    return result;
  };
  CHECK(ids("all") == std::vector<std::string>{"e1", "e2", "e3"});
  CHECK(ids("finished-only") == std::vector<std::string>{"e3"});
  CHECK(ids("apps") == std::vector<std::string>{"e1", "e3"});
  st::Notification first = stored(*store, "all", "e1");
  CHECK(first.event == "run-started");
  CHECK(first.attempts == 0);
  CHECK_FALSE(first.delivered_at);
  json body = json::parse(first.body);
  CHECK(body["id"] == "e1");
  CHECK(body["event"] == "run-started");
  CHECK(body["at"].get<std::string>() == cascade::util::iso_utc_ms(first.next_at));
}

TEST_CASE("notify: a webhook receives each event once, in order, signed") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  Receiver receiver;
  SimClock clock;
  const std::string key = "hmac-key-Zq81";
  std::vector<pipeline::Notify> destinations = {webhook("hook", "HOOK_URL", "HOOK_SECRET")};
  notify::Deliverer deliverer(*store, destinations,
                              environment({{"HOOK_URL", receiver.url("/events")}, {"HOOK_SECRET", key}}),
                              clock.function());

  std::vector<std::string> kinds = {"run-started", "awaiting-approval", "rolled-back", "quarantined", "run-finished"};
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    notify::Event e = event("run-7-" + std::to_string(i), kinds[i], {"127.0.0.1:5000/apps/web:1"});
    e.details = {{"reason", "caf\xc3\xa9 <&>"}};
    ok(notify::enqueue(*store, destinations, e));
  }
  ok(notify::enqueue(*store, destinations, event("run-7-0", "run-started")));  // the same event again

  notify::DeliveryReport report = deliverer.deliver_due();
  CHECK(report.delivered == 5);
  CHECK(report.failed == 0);
  CHECK(deliverer.deliver_due().delivered == 0);  // nothing twice
  CHECK_FALSE(deliverer.next_due());

  auto received = receiver.received();
  REQUIRE(received.size() == 5);
  for (std::size_t i = 0; i < received.size(); ++i) {
    const Received& r = received[i];
    CAPTURE(i);
    CHECK(r.target == "/events");
    CHECK(r.headers.get("Content-Type") == "application/json");
    CHECK(r.headers.get("X-Cascade-Event") == kinds[i]);
    CHECK(r.headers.get("X-Cascade-Delivery") == "run-7-" + std::to_string(i));
    CHECK(r.headers.get("X-Cascade-Signature-256") == "sha256=" + openssl_hmac_hex(key, r.body));
    st::Notification n = stored(*store, "hook", "run-7-" + std::to_string(i));
    CHECK(r.body == n.body);  // the stored bytes, as signed
    CHECK(n.delivered_at);
    CHECK(n.attempts == 0);
    json body = json::parse(r.body);
    CHECK(body["id"] == "run-7-" + std::to_string(i));
    CHECK(body["event"] == kinds[i]);
    CHECK(body["run"] == 7);
    CHECK(body["images"] == json{"127.0.0.1:5000/apps/web:1"});
    CHECK(body["reason"] == "caf\xc3\xa9 <&>");
  }
}

TEST_CASE("notify: a slack destination gets {\"text\": ...} only") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  Receiver receiver;
  pipeline::Notify slack = webhook("chat", "SLACK_URL");
  slack.kind = pipeline::Notify::Kind::slack;
  notify::Deliverer deliverer(*store, {slack}, environment({{"SLACK_URL", receiver.url("/services/T1/B2/x")}}));
  notify::Event e = event("run-9-finished", "run-finished", {}, 9);
  e.text = "cascade run 9 finished: 3 pushed, 1 failed";
  ok(notify::enqueue(*store, {slack}, e));

  CHECK(deliverer.deliver_due().delivered == 1);
  auto received = receiver.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].target == "/services/T1/B2/x");
  CHECK(received[0].headers.get("Content-Type") == "application/json");
  CHECK_FALSE(received[0].headers.has("X-Cascade-Signature-256"));
  CHECK(json::parse(received[0].body) == json{{"text", "cascade run 9 finished: 3 pushed, 1 failed"}});
}

TEST_CASE("notify: a receiver down (503, then refusing connections) then up: nothing lost, nothing twice, in order") {
  TempDir dir;
  // Every notification is stored in the same millisecond: the order must not hang on the times.
  st::StoreOptions options;
  options.clock = [] { return st::Time(1'767'225'600'000ms); };
  auto store = cascade::test::open_store((dir / "state.db").string(), options);
  Receiver down;
  Receiver up;
  SimClock clock;
  std::vector<pipeline::Notify> destinations = {webhook("down", "DOWN_URL", "KEY"), webhook("up", "UP_URL")};
  notify::Deliverer deliverer(
      *store, destinations,
      environment({{"DOWN_URL", down.url("/in")}, {"UP_URL", up.url("/in")}, {"KEY", "k"}}), clock.function());
  auto enqueue = [&](const std::string& id) { ok(notify::enqueue(*store, destinations, event(id, "run-started"))); };

  down.status = 503;
  enqueue("e1");
  enqueue("e2");
  enqueue("e3");
  notify::DeliveryReport report = deliverer.deliver_due();
  CHECK(report.delivered == 3);  // "up" is not held back by "down"
  CHECK(report.failed == 1);     // e1 to "down"; e2 and e3 wait behind it
  CHECK(up.accepted_ids() == std::vector<std::string>{"e1", "e2", "e3"});
  REQUIRE(down.received().size() == 1);
  st::Notification e1 = stored(*store, "down", "e1");
  CHECK(e1.attempts == 1);
  CHECK(e1.next_at == clock.now() + 1s);
  // The receiver's answer echoes the URL's path: it is not kept.
  CHECK(e1.last_error.rfind("POST to http://127.0.0.1:" + std::to_string(down.port()) +
                                " answered 503: cannot take <redacted> {\"at\":",
                            0) == 0);
  CHECK(deliverer.next_due() == clock.now() + 1s);

  // Not due yet: nothing is tried, and e4 (due at once) waits behind e1.
  enqueue("e4");
  report = deliverer.deliver_due();
  CHECK(report.delivered == 1);  // e4 to "up"
  CHECK(report.failed == 0);
  CHECK(down.received().size() == 1);
  CHECK(deliverer.next_due() == clock.now() + 1s);

  // Now nothing listens on its port.
  const std::uint16_t port = down.port();
  down.stop();
  clock.advance(1s);
  report = deliverer.deliver_due();
  CHECK(report.failed == 1);
  e1 = stored(*store, "down", "e1");
  CHECK(e1.attempts == 2);
  CHECK(e1.next_at == clock.now() + 2s);
  CHECK(e1.last_error.rfind("POST to http://127.0.0.1:" + std::to_string(port) + " failed: connect", 0) == 0);
  CHECK(stored(*store, "down", "e2").attempts == 0);

  clock.advance(1s);
  CHECK(deliverer.deliver_due().failed == 0);  // e1 not due for another second
  clock.advance(1s);
  CHECK(deliverer.deliver_due().failed == 1);
  CHECK(stored(*store, "down", "e1").attempts == 3);

  // Up again, on the same port.
  down.start(port);
  down.status = 200;
  clock.advance(4s);
  report = deliverer.deliver_due();
  CHECK(report.delivered == 4);
  CHECK(report.failed == 0);
  CHECK(down.accepted_ids() == std::vector<std::string>{"e1", "e2", "e3", "e4"});
  CHECK(up.accepted_ids() == std::vector<std::string>{"e1", "e2", "e3", "e4"});
  for (const auto& n : ok(store->list_notifications())) {
    CAPTURE(n.destination + "/" + n.event_id);
    CHECK(n.delivered_at);
  }
  CHECK_FALSE(deliverer.next_due());
  CHECK(deliverer.deliver_due().delivered == 0);

  SUBCASE("a restart goes on where it was: a new deliverer over the same store sends nothing again") {
    notify::Deliverer again(*store, destinations,
                            environment({{"DOWN_URL", down.url("/in")}, {"UP_URL", up.url("/in")}, {"KEY", "k"}}),
                            clock.function());
    CHECK(again.deliver_due().delivered == 0);
    CHECK(down.accepted_ids().size() == 4);
  }
}

TEST_CASE("notify: a destination gone from the pipeline keeps its notifications, tried again hourly") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  SimClock clock;
  ok(notify::enqueue(*store, {webhook("old", "URL")}, event("e1", "run-finished")));
  notify::Deliverer deliverer(*store, {webhook("new", "URL")}, environment({}), clock.function());
  CHECK(deliverer.deliver_due().failed == 1);
  st::Notification n = stored(*store, "old", "e1");
  CHECK_FALSE(n.delivered_at);
  CHECK(n.next_at == clock.now() + 1h);
  CHECK(n.last_error.find("destination 'old' is no longer among the pipeline's notify: entries") != std::string::npos);
}

TEST_CASE("notify: a command destination gets the JSON on stdin and the event in its environment") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  SimClock clock;
  const std::string copy = (dir / "stdin.json").string();
  const std::string seen = (dir / "env.txt").string();
  std::vector<pipeline::Notify> destinations = {
      command("tee", {"tee", copy}),
      command("env", {script(dir, "env.sh", "printf '%s %s\\n' \"$CASCADE_EVENT\" \"$CASCADE_DELIVERY\" >> '" +
                                                  seen + "'\ncat > /dev/null\n")})};
  notify::Deliverer deliverer(*store, destinations, environment({}), clock.function());
  ok(notify::enqueue(*store, destinations, event("run-3-awaiting", "awaiting-approval", {"127.0.0.1:5000/a:1"}, 3)));

  CHECK(deliverer.deliver_due().delivered == 2);
  CHECK(cascade::test::read_file(copy) == stored(*store, "tee", "run-3-awaiting").body);
  CHECK(json::parse(cascade::test::read_file(copy))["event"] == "awaiting-approval");
  CHECK(cascade::test::read_file(seen) == "awaiting-approval run-3-awaiting\n");

  SUBCASE("a non-zero exit fails with what the command said; a slow one is stopped at the timeout") {
    pipeline::Notify failing = command("failing", {script(dir, "fail.sh", "echo 'no route to pager' >&2\nexit 3\n")});
    pipeline::Notify slow = command("slow", {"sleep", "10"});
    slow.timeout = 200ms;
    notify::Deliverer more(*store, {failing, slow}, environment({}), clock.function());
    ok(notify::enqueue(*store, {failing, slow}, event("e9", "run-finished")));
    CHECK(more.deliver_due().failed == 2);
    CHECK(stored(*store, "failing", "e9").last_error.find(" exited 3: no route to pager") != std::string::npos);
    CHECK(stored(*store, "slow", "e9").last_error == "command sleep timed out after 200 ms");
  }
}

TEST_CASE("notify: variables: unset ones are named, set ones never stored") {
  TempDir dir;
  auto store = cascade::test::open_store((dir / "state.db").string());
  Receiver receiver;
  receiver.status = 503;  // and it echoes the URL it was called with
  SimClock clock;
  const std::string secret_url =
      "http://hook-user:pa55w0rd@127.0.0.1:" + std::to_string(receiver.port()) + "/hooks/T0KEN-IN-PATH?token=Q-T0KEN";
  pipeline::Notify slack = webhook("slack", "SLACK_URL");
  slack.kind = pipeline::Notify::Kind::slack;
  std::vector<pipeline::Notify> destinations = {
      webhook("no-url", "NOTIFY_TEST_UNSET_URL"), webhook("no-secret", "SET_URL", "NOTIFY_TEST_UNSET_KEY"),
      slack, webhook("signed", "SET_URL", "KEY")};
  notify::Deliverer deliverer(*store, destinations,
                              environment({{"SET_URL", secret_url}, {"SLACK_URL", secret_url}, {"KEY", "K3Y-VALUE"}}),
                              clock.function());
  ok(notify::enqueue(*store, destinations, event("e1", "rolled-back")));
  CHECK(deliverer.deliver_due().failed == 4);

  CHECK(stored(*store, "no-url", "e1").last_error == "url_env NOTIFY_TEST_UNSET_URL is not set");
  CHECK(stored(*store, "no-secret", "e1").last_error == "secret_env NOTIFY_TEST_UNSET_KEY is not set");
  REQUIRE(receiver.received().size() == 2);  // never sent unsigned, never sent without a URL
  CHECK(receiver.received()[0].target == "/hooks/T0KEN-IN-PATH?token=Q-T0KEN");

  receiver.stop();  // and again with nothing listening
  clock.advance(1s);
  CHECK(deliverer.deliver_due().failed == 4);
  for (const st::Notification& n : ok(store->list_notifications())) {
    CAPTURE(n.destination);
    CHECK_FALSE(n.last_error.empty());
    for (const char* secret : {"T0KEN", "pa55w0rd", "hook-user", "K3Y-VALUE", "/hooks"})
      CHECK(n.last_error.find(secret) == std::string::npos);
  }
  CHECK(stored(*store, "signed", "e1").last_error.rfind("POST to http://127.0.0.1:", 0) == 0);

  SUBCASE("without an environment function, the process environment") {
    cascade::test::ScopedVariable url("NOTIFY_TEST_PROCESS_URL", "not a url");
    notify::Deliverer from_process(*store, {webhook("no-url", "NOTIFY_TEST_PROCESS_URL")}, {}, clock.function());
    clock.advance(10s);
    CHECK(from_process.deliver_due().failed == 4);  // the three others are not in this pipeline
    CHECK(stored(*store, "no-url", "e1").last_error ==
          "url_env NOTIFY_TEST_PROCESS_URL does not hold an http:// or https:// URL");
  }
}
