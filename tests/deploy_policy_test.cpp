// Workload::policy, the io.cascade.policy label or annotation, as the deploy targets read it.
// The Docker target against both real engines (podman's API service and dockerd 20.10), its
// containers created through the Engine API with their labels as a user would, from an image
// imported from a busybox root filesystem (no registry needed: inventory only reads). The
// Kubernetes target against a replayed API server: a fake peer, allowed here only because no
// API server can run in this environment (as in deploy_kubernetes_test.cpp). The command
// target has no inventory of its own, so it has no policy to read.
#include <doctest/doctest.h>

#include <map>
#include <optional>

#include "../src/deploy/internal.hpp"
#include "cascade/deploy.hpp"
#include "cascade/deploy_kubernetes.hpp"
#include "dockerd_fixture.hpp"
#include "podman_fixture.hpp"
#include "registry_fixture.hpp"

using namespace cascade;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

const std::string kRepository = "policy.test/app";
const char* kServe = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

// A root filesystem tarball holding busybox as /bin/busybox and /bin/sh, written with tar.
std::string busybox_tarball(const test::TempDir& dir) {
  fs::path root = dir / "rootfs";
  fs::create_directories(root / "bin");
  fs::copy_file("/usr/bin/busybox", root / "bin/busybox");
  fs::create_symlink("busybox", root / "bin/sh");
  std::string tarball = (dir / "rootfs.tar").string();
  auto packed =
      test::run({"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", root.string(), "-cf", tarball, "."});
  if (packed.exit_code != 0) throw std::runtime_error("tar: " + packed.err);
  return tarball;
}

// POST /images/create?fromSrc=- of `tarball`, then tags it kRepository:1 (podman 4.3's
// import leaves the image unnamed whatever repo= says; both engines answer its id as status).
void import_image(const std::string& socket, const std::string& tarball) {
  http::Options options;
  options.read_timeout = std::chrono::minutes(2);
  options.hosts["docker"].insecure = true;
  options.hosts["docker"].unix_socket = socket;
  http::Client client(options);
  http::Request request{"POST", "http://docker/v1.41/images/create?fromSrc=-", {}, test::read_file(tarball)};
  request.headers.set("Content-Type", "application/x-tar");
  auto reply = client.request(std::move(request));
  if (!reply || reply->status != 200 || reply->body.find("\"error") != std::string::npos)
    throw std::runtime_error("import: " + (reply ? reply->body : reply.error().str()));
  std::string body = reply->body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  std::size_t newline = body.rfind('\n');
  json last = json::parse(body.substr(newline == std::string::npos ? 0 : newline + 1), nullptr, false);
  std::string id = last.is_object() ? last.value("status", "") : "";
  if (id.rfind("sha256:", 0) != 0) throw std::runtime_error("import: no image id in " + reply->body);
  auto tagged = test::EngineApi(socket).call("POST", "/images/" + id + "/tag?repo=" + kRepository + "&tag=1");
  if (tagged.status != 201) throw std::runtime_error("tag " + id + ": " + tagged.text);
}

// An engine with kRepository:1 imported; each started on first use and kept for the binary.
struct Engines {
  test::TempDir dir;
  std::string tarball = busybox_tarball(dir);
  std::optional<test::PodmanService> podman_service;
  std::optional<test::DockerEngine> dockerd_service;

  std::string podman() {
    if (!podman_service) {
      podman_service.emplace(std::vector<std::string>{});
      import_image(podman_service->socket(), tarball);
    }
    return podman_service->socket();
  }
  std::string dockerd() {
    if (!dockerd_service) {
      dockerd_service.emplace();
      import_image(dockerd_service->socket(), tarball);
    }
    return dockerd_service->socket();
  }
};

Engines& engines() {
  static Engines instance;
  return instance;
}

// Runs container `name` on kRepository:1 with `labels`, as `docker run --label` would.
void run(test::EngineApi& api, const std::string& name, const json& labels) {
  api.run(name, {{"Image", kRepository + ":1"},
                 {"Labels", labels},
                 {"Cmd", {"sh", "-c", kServe}},
                 {"HostConfig", {{"NetworkMode", "none"}}}});
}

// Replica `index` of compose service "pol/<service>", labelled with `policy` when given.
void replica(test::EngineApi& api, const std::string& service, int index, const std::optional<std::string>& policy) {
  json labels = {{"com.docker.compose.project", "pol"}, {"com.docker.compose.service", service}};
  if (policy) labels[deploy::kPolicyLabel] = *policy;
  run(api, service + "-" + std::to_string(index), labels);
}

std::map<std::string, deploy::Workload> by_name(const std::vector<deploy::Workload>& workloads) {
  std::map<std::string, deploy::Workload> named;
  for (const auto& workload : workloads) named[workload.name] = workload;
  return named;
}

void check_docker_policies(const std::string& socket) {
  test::EngineApi api(socket);
  run(api, "pol-monitor", {{deploy::kPolicyLabel, "monitor"}});
  run(api, "pol-hold", {{deploy::kPolicyLabel, " hold\n"}, {"team", "blue"}});
  run(api, "pol-skip", {{deploy::kPolicyLabel, "skip"}});
  run(api, "pol-none", {{"team", "blue"}});
  run(api, "pol-blank", {{deploy::kPolicyLabel, "  "}});
  run(api, "pol-odd", {{deploy::kPolicyLabel, "Freeze"}});
  // Replicas that disagree, the stricter one first by name and last by name.
  replica(api, "api", 1, "monitor");
  replica(api, "api", 2, "hold");
  replica(api, "db", 1, "skip");
  replica(api, "db", 2, std::nullopt);
  replica(api, "cache", 1, "hold");
  replica(api, "cache", 2, "freeze");
  replica(api, "web", 1, " monitor");
  replica(api, "web", 2, "monitor");

  deploy::DockerOptions options;
  options.endpoint = "unix://" + socket;
  auto target = deploy::DockerTarget::connect(options);
  REQUIRE_MESSAGE(target, target.error().str());
  auto listed = (*target)->inventory(std::nullopt);
  REQUIRE_MESSAGE(listed, listed.error().str());
  auto workloads = by_name(*listed);
  auto policy = [&](const std::string& name) {
    REQUIRE_MESSAGE(workloads.contains(name), "no workload " << name);
    return workloads[name].policy;
  };
  CHECK(policy("pol-monitor") == "monitor");
  CHECK(policy("pol-hold") == "hold");  // blanks trimmed
  CHECK(policy("pol-skip") == "skip");  // still listed: the caller leaves it out
  CHECK(policy("pol-none").empty());
  CHECK(policy("pol-blank").empty());
  CHECK(policy("pol-odd") == "Freeze");  // kept as written, for the release to name
  CHECK(policy("pol/api") == "hold");    // hold over monitor
  CHECK(policy("pol/db") == "skip");     // skip over none
  CHECK(policy("pol/cache") == "freeze");  // an unknown value over hold
  CHECK(policy("pol/web") == "monitor");
  for (const char* group : {"pol/api", "pol/db", "pol/cache", "pol/web"}) CHECK(workloads[group].instances.size() == 2);

  auto in_repository = (*target)->inventory(*reference::parse(kRepository));
  REQUIRE(in_repository);
  auto filtered = by_name(*in_repository);
  CHECK(filtered.size() == workloads.size());
  CHECK(filtered["pol-skip"].policy == "skip");
  CHECK(filtered["pol/db"].policy == "skip");
}

}  // namespace

TEST_CASE("deploy::policy_of reads the io.cascade.policy label, stricter_policy settles a disagreement") {
  using deploy::detail::policy_of;
  using deploy::detail::stricter_policy;
  SUBCASE("the label's value, trimmed; empty when absent or not a string") {
    CHECK(policy_of({{"io.cascade.policy", "hold"}, {"team", "blue"}}) == "hold");
    CHECK(policy_of({{"io.cascade.policy", "\t skip \r\n"}}) == "skip");
    CHECK(policy_of({{"io.cascade.policy", "Monitor"}}) == "Monitor");
    CHECK(policy_of({{"io.cascade.policy", "   "}}).empty());
    CHECK(policy_of({{"io.cascade.policy", 1}}).empty());
    CHECK(policy_of({{"io.cascade.policy.extra", "hold"}}).empty());
    CHECK(policy_of(json::object()).empty());
    CHECK(policy_of(nullptr).empty());
  }
  SUBCASE("an unknown value > hold > monitor > skip > none, whichever comes first") {
    const std::vector<std::string> order = {"", "skip", "monitor", "hold", "freeze"};
    for (std::size_t low = 0; low < order.size(); ++low)
      for (std::size_t high = low + 1; high < order.size(); ++high) {
        CAPTURE(order[low]);
        CAPTURE(order[high]);
        CHECK(stricter_policy(order[low], order[high]) == order[high]);
        CHECK(stricter_policy(order[high], order[low]) == order[high]);
      }
    CHECK(stricter_policy("hold", "hold") == "hold");
    CHECK(stricter_policy("freeze", "thaw") == "freeze");  // two unknown values: the first replica's
    CHECK(stricter_policy("thaw", "freeze") == "thaw");
  }
}

TEST_CASE("deploy::DockerTarget inventory reports each workload's io.cascade.policy") {
  SUBCASE("podman") { check_docker_policies(engines().podman()); }
  SUBCASE("dockerd") { check_docker_policies(engines().dockerd()); }
}

namespace {

// A workload object as the API server lists it, its pods selected by app=<name>.
json workload_object(const std::string& name, const json& annotations) {
  json metadata = {{"name", name}, {"namespace", "web"}, {"generation", 1}};
  if (!annotations.is_null()) metadata["annotations"] = annotations;
  return {{"metadata", metadata},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "registry.internal/acme/" + name + ":1"}}}}}}}}}}};
}

test::Reply list_reply(std::vector<json> items) {
  json list = {{"kind", "List"}, {"items", json::array()}};
  for (json& item : items) list["items"].push_back(std::move(item));
  return test::Reply{200, {{"Content-Type", "application/json"}}, list.dump()};
}

}  // namespace

TEST_CASE("deploy::KubernetesTarget inventory reports the io.cascade.policy annotation of the workload") {
  // The agent's pod carries the annotation too: pods are listed for their names only.
  const json annotated_pod = {
      {"metadata", {{"name", "agent-x1"}, {"annotations", {{"io.cascade.policy", "monitor"}}}}}};
  test::ScriptedServer server([&](const test::Received& request) {
    const std::string apps = "/apis/apps/v1/namespaces/web/";
    const std::string pods = "/api/v1/namespaces/web/pods?labelSelector=";
    if (request.target == apps + "deployments")
      return list_reply({workload_object("billing", {{"io.cascade.policy", "hold"},
                                                     {"deployment.kubernetes.io/revision", "3"}})});
    if (request.target == apps + "statefulsets")
      return list_reply({workload_object("ledger", {{"io.cascade.policy", " skip "}})});
    if (request.target == apps + "daemonsets") return list_reply({workload_object("agent", nullptr)});
    if (request.target == pods + "app%3Dagent") return list_reply({annotated_pod});
    if (request.target.rfind(pods, 0) == 0) return list_reply({});
    return test::Reply{404, {{"Content-Type", "application/json"}}, R"({"kind":"Status","code":404})"};
  });
  test::TempDir dir;
  test::write_file(dir / "kubeconfig",
                   "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
                   "clusters:\n- name: c1\n  cluster:\n    server: " + server.url("") + "\n"
                   "contexts:\n- name: prod\n  context: {cluster: c1, user: u, namespace: web}\n"
                   "users:\n- name: u\n  user:\n    token: t0ken\n");
  deploy::KubernetesOptions options;
  options.kubeconfig = (dir / "kubeconfig").string();
  auto target = deploy::KubernetesTarget::connect(options);
  REQUIRE_MESSAGE(target, target.error().str());
  auto listed = (*target)->inventory(std::nullopt);
  REQUIRE_MESSAGE(listed, listed.error().str());
  auto workloads = by_name(*listed);
  REQUIRE(workloads.size() == 3);
  CHECK(workloads["web/deployment/billing"].policy == "hold");
  CHECK(workloads["web/statefulset/ledger"].policy == "skip");
  CHECK(workloads["web/daemonset/agent"].policy.empty());
  CHECK(workloads["web/daemonset/agent"].instances == std::vector<std::string>{"agent-x1"});
  auto ledger = (*target)->inventory(*reference::parse("registry.internal/acme/ledger"));
  REQUIRE(ledger);
  REQUIRE(ledger->size() == 1);  // a skip workload is still reported; the caller leaves it out
  CHECK(ledger->front().policy == "skip");
}
