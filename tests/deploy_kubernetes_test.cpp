// The Kubernetes target against RECORDED exchanges: no API server can run here, so an
// in-test Beast server on 127.0.0.1 (plain HTTP, or HTTPS requiring a client certificate)
// replays API responses shaped as in PROTOCOLS.md section 6 (Deployment status and
// conditions, pod containerStatuses with imageID, Status errors) and checks every request
// the target sends: method, path, query, Content-Type, JSON patch body and Authorization.
#include <doctest/doctest.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "cascade/deploy_kubernetes.hpp"
#include "registry_fixture.hpp"

using namespace cascade::deploy;
using cascade::test::Received;
using cascade::test::Reply;
using cascade::test::ScriptedServer;
using cascade::test::TempDir;
using cascade::test::write_file;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kOld = "registry.internal/acme/app@sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
const std::string kNewDigest = "sha256:9c0e5b7a1f0b4c8d2e6a3f9b1c7d5e2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e";
const std::string kNew = "registry.internal/acme/app@" + kNewDigest;
const std::string kPath = "/apis/apps/v1/namespaces/web/deployments/billing";

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned int chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out += table[(chunk >> 18) & 63];
    out += table[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? table[chunk & 63] : '=';
  }
  return out;
}

/// A Deployment as the API server returns it (kind omitted, as in list items).
json deployment(long long generation, long long observed, long long updated, long long available,
                const std::string& image, const std::string& progressing_reason = "ReplicaSetUpdated") {
  return {{"apiVersion", "apps/v1"},
          {"metadata", {{"name", "billing"}, {"namespace", "web"}, {"generation", generation}, {"uid", "5f1c"}}},
          {"spec",
           {{"replicas", 2},
            {"selector", {{"matchLabels", {{"app", "billing"}, {"tier", "api"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "billing"}, {"tier", "api"}}}}},
              {"spec",
               {{"containers",
                 {{{"name", "sidecar"}, {"image", "docker.io/envoyproxy/envoy:v1.30"}}, {{"name", "app"}, {"image", image}}}}}}}}}},
          {"status",
           {{"observedGeneration", observed},
            {"replicas", 2},
            {"updatedReplicas", updated},
            {"availableReplicas", available},
            {"conditions",
             {{{"type", "Available"}, {"status", "True"}, {"reason", "MinimumReplicasAvailable"}},
              {{"type", "Progressing"},
               {"status", progressing_reason == "ProgressDeadlineExceeded" ? "False" : "True"},
               {"reason", progressing_reason},
               {"message", progressing_reason == "ProgressDeadlineExceeded"
                               ? "ReplicaSet \"billing-7d9f\" has timed out progressing."
                               : "ReplicaSet \"billing-7d9f\" is progressing."}}}}}}};
}

json pod(const std::string& name, const std::string& image_id) {
  return {{"metadata", {{"name", name}, {"labels", {{"app", "billing"}, {"pod-template-hash", "7d9f"}}}}},
          {"status",
           {{"containerStatuses",
             {{{"name", "app"}, {"image", "registry.internal/acme/app:1.4"}, {"imageID", image_id}, {"ready", true}},
              {{"name", "sidecar"}, {"imageID", "docker.io/envoyproxy/envoy@sha256:77"}}}}}}};
}

Reply json_reply(const json& body, int status = 200) {
  return Reply{status, {{"Content-Type", "application/json"}}, body.dump()};
}

/// A kubeconfig for `server` with a bearer token.
std::string token_kubeconfig(const std::string& server, const std::string& extra_context = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c1\n  cluster:\n    server: " + server +
         "\ncontexts:\n- name: prod\n  context: {cluster: c1, user: deployer, namespace: web}\n" + extra_context +
         "users:\n- name: deployer\n  user:\n    token: s3cr3t-token\n";
}

std::unique_ptr<KubernetesTarget> connect(const TempDir& dir, const std::string& kubeconfig,
                                          std::vector<std::string> namespaces = {}) {
  write_file(dir / "kubeconfig", kubeconfig);
  KubernetesOptions options;
  options.name = "prod";
  options.kubeconfig = (dir / "kubeconfig").string();
  options.namespaces = std::move(namespaces);
  options.poll_interval = 5ms;
  auto target = KubernetesTarget::connect(options);
  if (!target) FAIL(target.error().str());
  return std::move(*target);
}

/// An HTTPS server on 127.0.0.1 that requires a client certificate signed by (here: equal
/// to) `client_ca`, answering every request with `handler`, on its own thread.
class TlsServer {
 public:
  TlsServer(const cascade::test::Certificate& server, const std::string& client_ca,
            std::function<Reply(const Received&)> handler)
      : handler_(std::move(handler)), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    context_.use_certificate_chain_file(server.cert);
    context_.use_private_key_file(server.key, boost::asio::ssl::context::pem);
    context_.load_verify_file(client_ca);
    context_.set_verify_mode(boost::asio::ssl::verify_peer | boost::asio::ssl::verify_fail_if_no_peer_cert);
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int handshakes_failed() const { return failed_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      boost::asio::co_spawn(io_, session(std::move(socket)), boost::asio::detached);
    }
  }
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), context_);
    auto [handshake_ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server,
                                                          boost::asio::as_tuple(boost::asio::use_awaitable));
    if (handshake_ec) {
      ++failed_;
      co_return;
    }
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_ec, n] = co_await http::async_read(stream, buffer, request, boost::asio::as_tuple(boost::asio::use_awaitable));
      if (read_ec) co_return;
      Received seen{std::string(request.method_string()), std::string(request.target()), {}, request.body()};
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      Reply reply = handler_(seen);
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      for (const auto& [name, value] : reply.headers) response.insert(name, value);
      response.keep_alive(request.keep_alive());
      response.body() = reply.body;
      response.prepare_payload();
      auto [write_ec, m] = co_await http::async_write(stream, response, boost::asio::as_tuple(boost::asio::use_awaitable));
      if (write_ec) co_return;
    }
  }

  std::function<Reply(const Received&)> handler_;
  boost::asio::io_context io_;
  boost::asio::ssl::context context_{boost::asio::ssl::context::tls_server};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> failed_{0};
  std::thread thread_;
};

Workload billing() {
  Workload workload;
  workload.target = "prod";
  workload.name = "web/deployment/billing";
  workload.image = kOld;
  return workload;
}

cascade::reference::Reference new_image() { return *cascade::reference::parse(kNew); }

}  // namespace

TEST_CASE("deploy::rollout_status judges as kubectl rollout status") {
  auto judge = [](json object, const char* kind) {
    object["kind"] = kind;
    auto status = rollout_status(object);
    REQUIRE(status);
    return *status;
  };
  using State = RolloutStatus::State;
  SUBCASE("Deployment, rule by rule in order") {
    CHECK(judge(deployment(2, 1, 2, 2, kNew), "Deployment").state == State::waiting);
    auto deadline = judge(deployment(2, 2, 1, 1, kNew, "ProgressDeadlineExceeded"), "Deployment");
    CHECK(deadline.state == State::failed);
    CHECK(deadline.message == "progress deadline exceeded: ReplicaSet \"billing-7d9f\" has timed out progressing.");
    // generation not yet observed wins over the deadline condition
    CHECK(judge(deployment(3, 2, 1, 1, kNew, "ProgressDeadlineExceeded"), "Deployment").state == State::waiting);
    CHECK(judge(deployment(2, 2, 1, 1, kNew), "Deployment").message == "1 out of 2 new replicas have been updated");
    json old_pending = deployment(2, 2, 2, 2, kNew);
    old_pending["status"]["replicas"] = 3;
    CHECK(judge(old_pending, "Deployment").message == "1 old replicas are pending termination");
    CHECK(judge(deployment(2, 2, 2, 1, kNew), "Deployment").message == "1 of 2 updated replicas are available");
    CHECK(judge(deployment(2, 2, 2, 2, kNew, "NewReplicaSetAvailable"), "Deployment").state == State::complete);
    json empty = {{"metadata", {{"generation", 1}}}, {"status", {{"observedGeneration", 1}}}, {"spec", {{"replicas", 0}}}};
    CHECK(judge(empty, "Deployment").state == State::complete);
  }
  SUBCASE("StatefulSet: partition, then revisions only without rollingUpdate") {
    json set = {{"metadata", {{"generation", 4}}},
                {"spec", {{"replicas", 3}, {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 1}}}}}}},
                {"status", {{"observedGeneration", 4}, {"readyReplicas", 3}, {"updatedReplicas", 1}}}};
    CHECK(judge(set, "StatefulSet").message == "1 out of 2 new pods have been updated");
    set["status"]["updatedReplicas"] = 2;
    CHECK(judge(set, "StatefulSet").state == State::complete);
    set["spec"]["updateStrategy"].erase("rollingUpdate");
    set["status"]["updateRevision"] = "web-2";
    set["status"]["currentRevision"] = "web-1";
    CHECK(judge(set, "StatefulSet").state == State::waiting);
    set["status"]["observedGeneration"] = 0;
    CHECK(judge(set, "StatefulSet").message == "waiting for the statefulset spec update to be observed");
  }
  SUBCASE("DaemonSet and OnDelete") {
    json daemons = {{"metadata", {{"generation", 2}}},
                    {"spec", {{"updateStrategy", {{"type", "RollingUpdate"}}}}},
                    {"status",
                     {{"observedGeneration", 2}, {"desiredNumberScheduled", 3}, {"updatedNumberScheduled", 3},
                      {"numberAvailable", 2}}}};
    CHECK(judge(daemons, "DaemonSet").message == "2 of 3 updated pods are available");
    daemons["status"]["numberAvailable"] = 3;
    CHECK(judge(daemons, "DaemonSet").state == State::complete);
    daemons["kind"] = "DaemonSet";
    daemons["spec"]["updateStrategy"]["type"] = "OnDelete";
    CHECK_FALSE(rollout_status(daemons));
  }
}

TEST_CASE("deploy::label_selector and image_id_digest") {
  json selector = {{"matchLabels", {{"app", "billing"}}},
                   {"matchExpressions",
                    {{{"key", "tier"}, {"operator", "In"}, {"values", {"api", "web"}}},
                     {{"key", "env"}, {"operator", "NotIn"}, {"values", {"dev"}}},
                     {{"key", "canary"}, {"operator", "DoesNotExist"}},
                     {{"key", "team"}, {"operator", "Exists"}}}}};
  CHECK(*label_selector(selector) == "app=billing,tier in (api,web),env notin (dev),!canary,team");
  CHECK_FALSE(label_selector(json{{"matchExpressions", {{{"key", "a"}, {"operator", "Near"}}}}}));
  CHECK(image_id_digest("docker-pullable://acme/app@sha256:abc") == "sha256:abc");
  CHECK(image_id_digest("docker.io/acme/app@sha256:abc") == "sha256:abc");
  CHECK(image_id_digest("sha256:abc").empty());
}

TEST_CASE("deploy::parse_kubeconfig") {
  const std::string config = R"(apiVersion: v1
current-context: prod
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: pki/ca.crt}
- name: c2
  cluster: {server: "https://10.0.0.2:6443", certificate-authority-data: UEVNIENB, insecure-skip-tls-verify: true}
contexts:
- name: prod
  context: {cluster: c1, user: token-user, namespace: web}
- name: staging
  context: {cluster: c2, user: cert-user}
- name: plugin
  context: {cluster: c1, user: exec-user}
- name: lost
  context: {cluster: nowhere, user: token-user}
users:
- name: token-user
  user: {token: abc.def}
- name: cert-user
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
- name: exec-user
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, args: [eks, get-token]}
)";
  SUBCASE("current-context with a token and a CA path relative to the file") {
    auto credentials = parse_kubeconfig(config, "/home/dev/.kube", "");
    REQUIRE(credentials);
    CHECK(credentials->context == "prod");
    CHECK(credentials->server == "https://10.0.0.1:6443");
    CHECK(credentials->namespace_name == "web");
    CHECK(credentials->ca_file == "/home/dev/.kube/pki/ca.crt");
    CHECK(credentials->token == "abc.def");
    CHECK_FALSE(credentials->insecure);
  }
  SUBCASE("a named context with inline CA, client certificate and key") {
    auto credentials = parse_kubeconfig(config, "/home/dev/.kube", "staging");
    REQUIRE(credentials);
    CHECK(credentials->ca_data == "PEM CA");
    CHECK(credentials->cert_data == "CERT");
    CHECK(credentials->key_data == "KEY");
    CHECK(credentials->insecure);
    CHECK(credentials->token.empty());
  }
  SUBCASE("errors") {
    auto missing = parse_kubeconfig(config, "/", "dev");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message == "kubeconfig: no context named 'dev' in 'contexts'");
    auto plugin = parse_kubeconfig(config, "/", "plugin");
    REQUIRE_FALSE(plugin);
    CHECK(plugin.error().message.find("exec credential plugin, which is not supported") != std::string::npos);
    auto lost = parse_kubeconfig(config, "/", "lost");
    REQUIRE_FALSE(lost);
    CHECK(lost.error().message == "kubeconfig: no cluster named 'nowhere' in 'clusters'");
    CHECK_FALSE(parse_kubeconfig("clusters: [", "/", ""));
    CHECK(parse_kubeconfig("clusters: []\n", "/", "").error().message ==
          "kubeconfig: no context given and no current-context set");
  }
}

TEST_CASE("deploy::KubernetesTarget against a replayed API server") {
  TempDir dir;
  std::vector<Step> steps;
  StepSink sink = [&](const Step& step) { steps.push_back(step); };

  SUBCASE("inventory: workloads using the repository and the digest their pods run") {
    ScriptedServer server([](const Received& request) {
      if (request.target == "/apis/apps/v1/namespaces/web/deployments")
        return json_reply({{"kind", "DeploymentList"}, {"items", {deployment(1, 1, 2, 2, "registry.internal/acme/app:1.4")}}});
      if (request.target.rfind("/apis/apps/v1/namespaces/web/", 0) == 0)
        return json_reply({{"kind", "List"}, {"items", json::array()}});
      if (request.target == "/api/v1/namespaces/web/pods?labelSelector=app%3Dbilling%2Ctier%3Dapi")
        return json_reply({{"kind", "PodList"},
                           {"items", {pod("billing-7d9f-b", "docker-pullable://registry.internal/acme/app@" + kNewDigest),
                                      pod("billing-7d9f-a", "registry.internal/acme/app@" + kNewDigest)}}});
      return json_reply({{"kind", "Status"}, {"status", "Failure"}, {"message", "not found"}, {"code", 404}}, 404);
    });
    auto target = connect(dir, token_kubeconfig(server.url("")));
    auto workloads = target->inventory(*cascade::reference::parse("registry.internal/acme/app"));
    REQUIRE_MESSAGE(workloads, workloads.error().str());
    REQUIRE(workloads->size() == 1);
    const Workload& workload = workloads->front();
    CHECK(workload.target == "prod");
    CHECK(workload.name == "web/deployment/billing");
    CHECK(workload.image == "registry.internal/acme/app:1.4");
    CHECK(workload.digest == kNewDigest);
    CHECK(workload.instances == std::vector<std::string>{"billing-7d9f-a", "billing-7d9f-b"});
    auto others = target->inventory(*cascade::reference::parse("registry.internal/acme/other"));
    REQUIRE(others);
    CHECK(others->empty());
    for (const Received& request : server.received()) {
      CHECK(request.method == "GET");
      CHECK(request.header("authorization") == "Bearer s3cr3t-token");
    }
  }

  SUBCASE("rollout: JSON patch of the matching container, then waiting until complete") {
    std::atomic<int> polls{0};
    ScriptedServer server([&](const Received& request) {
      if (request.method == "PATCH") return json_reply(deployment(2, 1, 0, 2, kNew));
      if (request.target != kPath) return json_reply({{"message", "unexpected"}}, 500);
      if (request.method == "GET" && polls++ == 0) return json_reply(deployment(1, 1, 2, 2, kOld));
      if (polls == 2) return json_reply(deployment(2, 1, 0, 2, kNew));
      if (polls == 3) return json_reply(deployment(2, 2, 1, 1, kNew));
      return json_reply(deployment(2, 2, 2, 2, kNew, "NewReplicaSetAvailable"));
    });
    auto target = connect(dir, token_kubeconfig(server.url("")));
    RolloutPolicy policy;
    policy.health_timeout = 5s;
    auto result = target->rollout(billing(), new_image(), policy, sink, {});
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->outcome == RolloutResult::Outcome::healthy);
    REQUIRE(result->instances.size() == 1);
    CHECK(result->instances[0].outcome == InstanceOutcome::updated);
    auto received = server.received();
    auto patch = std::find_if(received.begin(), received.end(), [](const Received& r) { return r.method == "PATCH"; });
    REQUIRE(patch != received.end());
    CHECK(patch->target == kPath);
    CHECK(patch->header("content-type") == "application/json-patch+json");
    CHECK(patch->header("authorization") == "Bearer s3cr3t-token");
    CHECK(json::parse(patch->body) ==
          json::parse(R"([{"op":"test","path":"/spec/template/spec/containers/1/name","value":"app"},
                          {"op":"replace","path":"/spec/template/spec/containers/1/image","value":")" + kNew + "\"}]"));
    CHECK(polls == 4);
    REQUIRE(steps.size() == 2);
    CHECK(steps[0].state == StepState::updating);
    CHECK(steps[0].detail == "patched to generation 2");
    CHECK(steps[1].state == StepState::healthy);
    CHECK(steps[1].from == kOld);
    CHECK(steps[1].to == kNew);
    for (const Step& step : steps) CHECK(step.detail.find("s3cr3t") == std::string::npos);
  }

  SUBCASE("progress deadline exceeded: the previous image is patched back and the rollout is rolled_back") {
    std::vector<std::string> patches;
    std::mutex mutex;
    ScriptedServer server([&](const Received& request) {
      std::lock_guard lock(mutex);
      if (request.method == "PATCH") {
        patches.push_back(request.body);
        return json_reply(deployment(static_cast<long long>(patches.size()) + 1, 1, 0, 2, kNew));
      }
      if (patches.empty()) return json_reply(deployment(1, 1, 2, 2, kOld));
      if (patches.size() == 1) return json_reply(deployment(2, 2, 1, 1, kNew, "ProgressDeadlineExceeded"));
      return json_reply(deployment(3, 3, 2, 2, kOld, "NewReplicaSetAvailable"));
    });
    auto target = connect(dir, token_kubeconfig(server.url("")));
    auto result = target->rollout(billing(), new_image(), RolloutPolicy{}, sink, {});
    REQUIRE_MESSAGE(result, result.error().str());
    CHECK(result->outcome == RolloutResult::Outcome::rolled_back);
    CHECK(result->reason == "progress deadline exceeded: ReplicaSet \"billing-7d9f\" has timed out progressing.");
    REQUIRE(patches.size() == 2);
    CHECK(json::parse(patches[1])[1] ==
          json{{"op", "replace"}, {"path", "/spec/template/spec/containers/1/image"}, {"value", kOld}});
    REQUIRE(steps.size() == 3);
    CHECK(steps[1].state == StepState::failed);
    CHECK(steps[2].state == StepState::rolled_back);
  }

  SUBCASE("without rollback a deadline is failed and nothing is patched back") {
    int patches = 0;
    ScriptedServer server([&](const Received& request) {
      if (request.method == "PATCH") return ++patches, json_reply(deployment(2, 1, 0, 2, kNew));
      if (patches == 0) return json_reply(deployment(1, 1, 2, 2, kOld));
      return json_reply(deployment(2, 2, 1, 1, kNew, "ProgressDeadlineExceeded"));
    });
    auto target = connect(dir, token_kubeconfig(server.url("")));
    RolloutPolicy policy;
    policy.rollback = false;
    auto result = target->rollout(billing(), new_image(), policy, sink, {});
    REQUIRE(result);
    CHECK(result->outcome == RolloutResult::Outcome::failed);
    CHECK(patches == 1);
  }

  SUBCASE("API errors and blocked workloads fail before any change") {
    ScriptedServer server([](const Received& request) {
      if (request.target == "/apis/apps/v1/namespaces/web/deployments/paused") {
        json paused = deployment(1, 1, 2, 2, kOld);
        paused["spec"]["paused"] = true;
        return json_reply(paused);
      }
      return json_reply({{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                         {"message", "deployments.apps \"gone\" not found"}, {"reason", "NotFound"}, {"code", 404}},
                        404);
    });
    auto target = connect(dir, token_kubeconfig(server.url("")));
    Workload gone = billing();
    gone.name = "web/deployment/gone";
    auto missing = target->rollout(gone, new_image(), RolloutPolicy{}, sink, {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::not_found);
    CHECK(missing.error().message == "GET /apis/apps/v1/namespaces/web/deployments/gone: deployments.apps \"gone\" not found");
    Workload paused = billing();
    paused.name = "web/deployment/paused";
    auto blocked = target->rollout(paused, new_image(), RolloutPolicy{}, sink, {});
    REQUIRE_FALSE(blocked);
    CHECK(blocked.error().message == "web/deployment/paused: the deployment is paused (spec.paused)");
    Workload odd = billing();
    odd.name = "billing";
    CHECK(target->rollout(odd, new_image(), RolloutPolicy{}, sink, {}).error().kind == ErrorKind::invalid);
    for (const Received& request : server.received()) CHECK(request.method == "GET");
  }

  SUBCASE("HTTPS with the kubeconfig's inline CA and client certificate (mutual TLS)") {
    auto server_cert = cascade::test::make_certificate(dir.path(), "server");
    auto client_cert = cascade::test::make_certificate(dir.path(), "client", "DNS:deployer");
    TlsServer server(server_cert, client_cert.cert, [](const Received& request) {
      if (request.target.find("/deployments") != std::string::npos && !request.header("authorization").empty())
        return json_reply({{"message", "unexpected bearer token"}}, 400);
      return json_reply({{"kind", "List"}, {"items", json::array()}});
    });
    std::string config = "apiVersion: v1\ncurrent-context: mtls\nclusters:\n- name: c\n  cluster:\n    server: " +
                         server.url() + "\n    certificate-authority-data: " +
                         base64(cascade::test::read_file(server_cert.cert)) +
                         "\ncontexts:\n- name: mtls\n  context: {cluster: c, user: u}\n- name: anonymous\n"
                         "  context: {cluster: c}\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
                         base64(cascade::test::read_file(client_cert.cert)) +
                         "\n    client-key-data: " + base64(cascade::test::read_file(client_cert.key)) + "\n";
    auto target = connect(dir, config, {"web", "api"});
    auto workloads = target->inventory(std::nullopt);
    REQUIRE_MESSAGE(workloads, workloads.error().str());
    CHECK(workloads->empty());
    CHECK(server.handshakes_failed() == 0);
    KubernetesOptions anonymous;
    anonymous.kubeconfig = (dir / "kubeconfig").string();
    anonymous.context = "anonymous";
    auto refused = (*KubernetesTarget::connect(anonymous))->inventory(std::nullopt);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::connection);
    CHECK(server.handshakes_failed() >= 1);
  }

  SUBCASE("a missing context is an error naming the file") {
    write_file(dir / "kubeconfig", token_kubeconfig("https://127.0.0.1:6443"));
    KubernetesOptions options;
    options.kubeconfig = (dir / "kubeconfig").string();
    options.context = "staging";
    auto target = KubernetesTarget::connect(options);
    REQUIRE_FALSE(target);
    CHECK(target.error().message == options.kubeconfig + ": kubeconfig: no context named 'staging' in 'contexts'");
    CHECK(target.error().message.find("s3cr3t") == std::string::npos);
  }
}
