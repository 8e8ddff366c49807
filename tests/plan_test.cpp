// plan::make and plan::Scheduler, stepped by hand (no I/O: the executor feeds them).
#include <doctest/doctest.h>

#include <set>

#include "cascade/plan.hpp"

using namespace cascade;
using plan::Action;
using plan::Scheduler;

namespace {

const std::string kDebian = "docker.io/library/debian:12";
const std::string kGolang = "docker.io/library/golang:1.22";
const std::string kBase = "r.example.com/base:1";
const std::string kWeb = "r.example.com/web:1";
const std::string kWorker = "r.example.com/worker:1";
const std::string kApp = "r.example.com/app:1";
const std::string D1 = "sha256:" + std::string(64, '1');
const std::string D0 = "sha256:" + std::string(64, '0');

graph::Recipe recipe(const std::string& image, std::vector<std::string> bases) {
  graph::Recipe r;
  r.image = image;
  r.bases = std::move(bases);
  return r;
}

// debian:12 -> base -> {web, worker} -> app (+ golang, not affected)
graph::Graph fleet() {
  auto graph = graph::Graph::build({recipe(kBase, {kDebian}), recipe(kWeb, {kBase}), recipe(kWorker, {kBase}),
                                    recipe(kApp, {kGolang, kWeb, kWorker})});
  REQUIRE(graph);
  return std::move(graph).value();
}

plan::Origin trigger_on(const graph::Graph& graph, const std::string& image, std::optional<std::string> digest) {
  plan::Origin trigger;
  trigger.query = image;
  trigger.start = {*graph.find(image)};
  if (digest) trigger.digests[trigger.start[0]] = *digest;
  return trigger;
}

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }

const plan::Step& step(const plan::Plan& p, const std::string& image) {
  auto at = p.find(image);
  REQUIRE_MESSAGE(at, image);
  return p.steps[*at];
}

std::vector<std::string> after_images(const plan::Plan& p, const plan::Step& s) {
  std::vector<std::string> out;
  for (auto i : s.after) out.push_back(p.steps[i].image);
  return out;
}

}  // namespace

TEST_CASE("plan::needs") {
  auto graph = fleet();
  auto needs = plan::needs(graph, trigger_on(graph, kDebian, D1));
  CHECK(needs.inspect.size() == 4);
  REQUIRE(needs.resolve.size() == 1);
  CHECK(graph.node(needs.resolve[0]).image == kGolang);
}

TEST_CASE("plan::make") {
  auto graph = fleet();
  std::map<std::string, std::string> pinned = {{kGolang, digest_of('9')}};
  SUBCASE("nothing known: every image downstream builds, in build order, waiting for its rebuilt bases") {
    auto p = plan::make(graph, trigger_on(graph, kDebian, D1), {}, pinned);
    REQUIRE(p.steps.size() == 4);
    CHECK(p.steps[0].image == kBase);
    CHECK(p.steps[3].image == kApp);
    for (const auto& s : p.steps) CHECK(s.action == Action::build);
    CHECK(step(p, kBase).base_digests == std::map<std::string, std::string>{{kDebian, D1}});
    CHECK(step(p, kBase).after.empty());
    CHECK(after_images(p, step(p, kApp)) == std::vector<std::string>{kWeb, kWorker});
    CHECK(step(p, kApp).base_digests == std::map<std::string, std::string>{{kGolang, digest_of('9')}});
    CHECK(step(p, kApp).bases_built_in_run == std::vector<std::string>{kWeb, kWorker});
    CHECK(step(p, kApp).depth == 3);
    CHECK(p.trigger_digests.at(kDebian) == D1);
  }
  SUBCASE("everything already built on the new digests: every step is skipped (a rerun builds nothing)") {
    std::map<std::string, plan::Observed> observed = {
        {kBase, {digest_of('b'), {{kDebian, D1}}}},
        {kWeb, {digest_of('w'), {{kBase, digest_of('b')}}}},
        {kWorker, {digest_of('k'), {{kBase, digest_of('b')}}}},
        {kApp, {digest_of('a'), {{kWeb, digest_of('w')}, {kWorker, digest_of('k')}, {kGolang, digest_of('8')}}}}};
    auto p = plan::make(graph, trigger_on(graph, kDebian, D1), observed, pinned);
    for (const auto& s : p.steps) CHECK_MESSAGE(s.action == Action::skip, s.image);
    CHECK(step(p, kBase).old_digest == digest_of('b'));
  }
  SUBCASE("a partly done cascade builds only what is not yet on the new digests") {
    std::map<std::string, plan::Observed> observed = {
        {kBase, {digest_of('b'), {{kDebian, D1}}}},
        {kWeb, {digest_of('w'), {{kBase, digest_of('0')}}}},  // built on the old base
        {kWorker, {digest_of('k'), {{kBase, digest_of('b')}}}},
        {kApp, {digest_of('a'), {{kWeb, digest_of('w')}, {kWorker, digest_of('k')}}}}};
    auto p = plan::make(graph, trigger_on(graph, kDebian, D1), observed, pinned);
    CHECK(step(p, kBase).action == Action::skip);
    CHECK(step(p, kWorker).action == Action::skip);
    CHECK(step(p, kWeb).action == Action::build);
    CHECK(step(p, kWeb).base_digests.at(kBase) == digest_of('b'));
    CHECK(step(p, kApp).action == Action::build);
    CHECK(after_images(p, step(p, kApp)) == std::vector<std::string>{kWeb});
    CHECK(step(p, kApp).base_digests.at(kWorker) == digest_of('k'));
  }
  SUBCASE("an image pushed without cascade's labels is rebuilt") {
    std::map<std::string, plan::Observed> observed = {{kBase, {digest_of('b'), {}}}};
    auto p = plan::make(graph, trigger_on(graph, kDebian, D1), observed, pinned);
    CHECK(step(p, kBase).action == Action::build);
    CHECK(step(p, kBase).reason.find(kDebian) != std::string::npos);
  }
  SUBCASE("an image the fleet builds, with no digest given, is rebuilt first") {
    auto p = plan::make(graph, trigger_on(graph, kBase, std::nullopt), {}, {{kDebian, D0}, {kGolang, digest_of('9')}});
    REQUIRE(p.steps.size() == 4);
    CHECK(p.steps[0].image == kBase);
    CHECK(p.steps[0].depth == 0);
    CHECK(p.steps[0].action == Action::build);
    CHECK(p.steps[0].base_digests.at(kDebian) == D0);
    CHECK(after_images(p, step(p, kWeb)) == std::vector<std::string>{kBase});
  }
  SUBCASE("an image the fleet builds is skipped when already built from its commit on the same bases") {
    auto g = graph::Graph::build({[] { auto r = recipe(kBase, {kDebian}); r.commit = "c0ffee"; return r; }(),
                                  recipe(kWeb, {kBase})});
    REQUIRE(g);
    std::map<std::string, std::string> pins = {{kDebian, D0}};
    std::map<std::string, plan::Observed> observed = {{kBase, {digest_of('b'), {{kDebian, D0}}, "c0ffee"}},
                                                      {kWeb, {digest_of('w'), {{kBase, digest_of('b')}}, ""}}};
    auto p = plan::make(*g, trigger_on(*g, kBase, std::nullopt), observed, pins);
    CHECK(step(p, kBase).action == Action::skip);
    CHECK(step(p, kWeb).action == Action::skip);
    observed[kBase].revision = "0ld";
    CHECK(step(plan::make(*g, trigger_on(*g, kBase, std::nullopt), observed, pins), kBase).action == Action::build);
    observed[kBase].revision = "c0ffee";
    pins[kDebian] = D1;  // the base moved
    auto moved = plan::make(*g, trigger_on(*g, kBase, std::nullopt), observed, pins);
    CHECK(step(moved, kBase).action == Action::build);
    CHECK(step(moved, kWeb).action == Action::build);
  }
  SUBCASE("an image the fleet builds, with a digest given, is not rebuilt; its children build on that digest") {
    auto p = plan::make(graph, trigger_on(graph, kBase, D1), {}, pinned);
    REQUIRE(p.steps.size() == 3);
    CHECK_FALSE(p.find(kBase));
    CHECK(step(p, kWeb).base_digests.at(kBase) == D1);
    CHECK(step(p, kWeb).after.empty());
  }
}

TEST_CASE("plan::Scheduler") {
  auto graph = fleet();
  auto p = plan::make(graph, trigger_on(graph, kDebian, D1), {}, {});
  auto unit = [](const std::string&) { return 1.0; };
  std::size_t base = *p.find(kBase), web = *p.find(kWeb), worker = *p.find(kWorker), app = *p.find(kApp);

  SUBCASE("a diamond child starts only after both parents, once") {
    Scheduler scheduler(p, unit);
    CHECK(scheduler.next() == base);
    CHECK_FALSE(scheduler.next());
    scheduler.finished(base, true);
    auto first = scheduler.next(), second = scheduler.next();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(std::set<std::size_t>{*first, *second} == std::set<std::size_t>{web, worker});
    scheduler.finished(web, true);
    CHECK_FALSE(scheduler.next());
    scheduler.finished(worker, true);
    CHECK(scheduler.next() == app);
    CHECK_FALSE(scheduler.done());
    scheduler.finished(app, true);
    CHECK(scheduler.done());
  }
  SUBCASE("a ready step may start out of order, and a started one may be put back") {
    // What the executor does when the first ready step's workers are busy, or its worker died.
    Scheduler scheduler(p, unit);
    scheduler.finished(*scheduler.next(), true);  // base
    auto ready = scheduler.ready();
    REQUIRE(ready.size() == 2);
    CHECK(std::set<std::size_t>(ready.begin(), ready.end()) == std::set<std::size_t>{web, worker});
    scheduler.start(ready[1]);  // the second in priority order
    CHECK(scheduler.state(ready[1]) == Scheduler::State::running);
    CHECK(scheduler.ready() == std::vector<std::size_t>{ready[0]});
    CHECK(scheduler.running() == 1);
    scheduler.requeue(ready[1]);
    CHECK(scheduler.state(ready[1]) == Scheduler::State::ready);
    CHECK(scheduler.running() == 0);
    CHECK(scheduler.ready() == ready);  // the same order as before
    scheduler.finished(*scheduler.next(), true);
    scheduler.finished(*scheduler.next(), true);
    CHECK(scheduler.next() == app);
  }
  SUBCASE("a failure blocks only its descendants") {
    Scheduler scheduler(p, unit);
    scheduler.next();
    scheduler.finished(base, true);
    scheduler.next();
    scheduler.next();
    scheduler.finished(web, false);
    CHECK(scheduler.state(app) == Scheduler::State::blocked);
    CHECK(scheduler.blocked_by(app) == web);
    CHECK_FALSE(scheduler.done());
    scheduler.finished(worker, true);
    CHECK(scheduler.state(worker) == Scheduler::State::done);
    CHECK_FALSE(scheduler.next());
    CHECK(scheduler.done());
  }
  SUBCASE("the ready step with the longest remaining path goes first") {
    // long chain: x1 -> x2 -> x3; short: y (but y is slow)
    auto g = graph::Graph::build({recipe("r.example.com/x1:1", {kDebian}), recipe("r.example.com/x2:1", {"r.example.com/x1:1"}), recipe("r.example.com/x3:1", {"r.example.com/x2:1"}),
                                  recipe("r.example.com/y:1", {kDebian})});
    REQUIRE(g);
    auto q = plan::make(*g, trigger_on(*g, kDebian, D1), {}, {});
    std::size_t x1 = *q.find("r.example.com/x1:1"), y = *q.find("r.example.com/y:1");
    Scheduler by_count(q, unit);
    CHECK(by_count.remaining_path(x1) == 3.0);
    CHECK(by_count.next() == x1);
    Scheduler by_time(q, [](const std::string& image) { return image == "r.example.com/y:1" ? 10.0 : 1.0; });
    CHECK(by_time.next() == y);
  }
  SUBCASE("skipped steps are never handed out") {
    std::map<std::string, plan::Observed> observed = {{kBase, {digest_of('b'), {{kDebian, D1}}}}};
    auto q = plan::make(graph, trigger_on(graph, kDebian, D1), observed, {});
    Scheduler scheduler(q, unit);
    CHECK(scheduler.state(*q.find(kBase)) == Scheduler::State::skipped);
    auto first = scheduler.next();
    REQUIRE(first);
    CHECK(q.steps[*first].image != kBase);
  }
}
