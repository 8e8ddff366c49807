// The Kubernetes target: API calls over http::Client with the kubeconfig's credentials,
// inventory of workloads (with the io.cascade.policy annotation) and the digests their pods
// run, and image rollouts with rollback (PROTOCOLS.md 6.2 - 6.5).
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <tuple>

#include "cascade/deploy_kubernetes.hpp"
#include "cascade/http.hpp"
#include "cascade/util/text.hpp"
#include "internal.hpp"

namespace cascade::deploy {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Kind {
  std::string_view singular;  // in workload names: "deployment"
  std::string_view plural;    // in API paths: "deployments"
  std::string_view name;      // the object's kind: "Deployment"
};
constexpr Kind kKinds[] = {{"deployment", "deployments", "Deployment"},
                           {"statefulset", "statefulsets", "StatefulSet"},
                           {"daemonset", "daemonsets", "DaemonSet"}};

/// The repository of an image reference, empty when it does not parse.
std::string repository_of(std::string_view image) {
  auto parsed = reference::parse(image);
  return parsed ? parsed->repository() : std::string();
}

/// A container of a pod template using the image being rolled.
struct Container {
  std::string list;  // "containers" or "initContainers"
  std::size_t index = 0;
  std::string name;
  std::string image;  // as written in the template
};

std::vector<Container> containers_of(const json& object, const std::string& repository) {
  std::vector<Container> found;
  for (const char* list : {"containers", "initContainers"}) {
    const json::json_pointer path(std::string("/spec/template/spec/") + list);
    if (!object.contains(path) || !object.at(path).is_array()) continue;
    const json& items = object.at(path);
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::string image = items[i].value("image", "");
      if (repository.empty() || repository_of(image) == repository)
        found.push_back({list, i, items[i].value("name", ""), image});
    }
  }
  return found;
}

/// A JSON patch setting each container's image, guarded by a test of its name.
std::string image_patch(const std::vector<Container>& containers, const std::vector<std::string>& images) {
  json patch = json::array();
  for (std::size_t i = 0; i < containers.size(); ++i) {
    std::string base = "/spec/template/spec/" + containers[i].list + "/" + std::to_string(containers[i].index);
    patch.push_back({{"op", "test"}, {"path", base + "/name"}, {"value", containers[i].name}});
    patch.push_back({{"op", "replace"}, {"path", base + "/image"}, {"value", images[i]}});
  }
  return patch.dump();
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : ",") + part;
  return out;
}

/// Writes PEM data to a private file in `dir`; returns its path or empty on failure.
std::string write_private(const std::string& dir, const std::string& name, const std::string& data) {
  std::string path = (fs::path(dir) / name).string();
  std::ofstream out(path, std::ios::binary);
  out << data;
  return out ? path : std::string();
}

}  // namespace

class KubernetesTarget::Impl {
 public:
  KubernetesOptions options;
  KubeCredentials credentials;
  std::string scratch;  // private folder for PEM data from the kubeconfig; empty when unused
  std::string base;     // server URL without a trailing '/'
  std::unique_ptr<http::Client> client;
  std::mutex mutex;
  std::condition_variable_any wake;

  ~Impl() {
    std::error_code ignored;
    if (!scratch.empty()) fs::remove_all(scratch, ignored);
  }

  Expected<void, Error> prepare() {
    base = credentials.server;
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::size_t scheme_end = base.find("://");
    if (scheme_end == std::string::npos || (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0))
      return unexpected(Error{ErrorKind::invalid, "kubeconfig: server '" + base + "' is not an http(s) URL", 0});
    std::string authority = base.substr(scheme_end + 3, base.find('/', scheme_end + 3) - scheme_end - 3);
    http::HostOptions host;
    host.insecure = credentials.insecure || base.rfind("http://", 0) == 0;
    host.ca_file = credentials.ca_file;
    host.cert_file = credentials.cert_file;
    host.key_file = credentials.key_file;
    if (!credentials.ca_data.empty() || !credentials.cert_data.empty() || !credentials.key_data.empty()) {
      std::string pattern = (fs::temp_directory_path() / "cascade-kube-XXXXXX").string();
      if (!mkdtemp(pattern.data()))
        return unexpected(Error{ErrorKind::invalid, "kubeconfig: cannot create a private temporary folder", 0});
      scratch = pattern;  // mkdtemp makes it 0700
      if (!credentials.ca_data.empty()) host.ca_file = write_private(scratch, "ca.pem", credentials.ca_data);
      if (!credentials.cert_data.empty()) host.cert_file = write_private(scratch, "client.pem", credentials.cert_data);
      if (!credentials.key_data.empty()) host.key_file = write_private(scratch, "client-key.pem", credentials.key_data);
    }
    http::Options http_options;
    http_options.read_timeout = options.request_timeout;
    http_options.write_timeout = options.request_timeout;
    http_options.hosts[authority] = host;
    http_options.stop = options.cancel;
    client = std::make_unique<http::Client>(http_options);
    return {};
  }

  /// One API call; a status >= 400 fails (api, or not_found for 404) with the Status message.
  Expected<json, Error> call(const std::string& method, const std::string& path, const std::string& body = {},
                             const std::string& content_type = {}) {
    http::Request request{method, base + path, {}, body};
    request.headers.add("Accept", "application/json");
    if (!credentials.token.empty()) request.headers.add("Authorization", "Bearer " + credentials.token);
    if (!content_type.empty()) request.headers.add("Content-Type", content_type);
    std::string what = method + " " + path.substr(0, path.find('?'));
    auto response = client->request(std::move(request));
    if (!response) return unexpected(Error{ErrorKind::connection, what + ": " + response.error().str(), 0});
    json parsed = json::parse(response->body, nullptr, false);
    if (response->status >= 400) {
      std::string message = parsed.is_object() ? parsed.value("message", "") : std::string();
      if (message.empty()) message = "HTTP " + std::to_string(response->status);
      ErrorKind kind = response->status == 404 ? ErrorKind::not_found : ErrorKind::api;
      return unexpected(Error{kind, what + ": " + message, response->status});
    }
    if (parsed.is_discarded()) return unexpected(Error{ErrorKind::connection, what + ": the answer is not JSON", 0});
    return parsed;
  }

  static std::string object_path(const std::string& ns, const Kind& kind, const std::string& name) {
    return "/apis/apps/v1/namespaces/" + ns + "/" + std::string(kind.plural) + (name.empty() ? "" : "/" + name);
  }

  Expected<json, Error> get_object(const std::string& ns, const Kind& kind, const std::string& name) {
    auto object = call("GET", object_path(ns, kind, name));
    if (object) (*object)["kind"] = kind.name;
    return object;
  }

  /// Pods selected by the workload's selector, sorted by name.
  Expected<std::vector<json>, Error> pods_of(const std::string& ns, const json& object) {
    auto selector = label_selector(object.value("/spec/selector"_json_pointer, json::object()));
    if (!selector) return unexpected(Error{ErrorKind::api, "selector: " + selector.error(), 0});
    auto list = call("GET", "/api/v1/namespaces/" + ns + "/pods?labelSelector=" + util::percent_encode(*selector));
    if (!list) return unexpected(list.error());
    std::vector<json> pods;
    if (list->contains("items") && (*list)["items"].is_array()) pods = (*list)["items"].get<std::vector<json>>();
    std::sort(pods.begin(), pods.end(), [](const json& a, const json& b) {
      return a.value("/metadata/name"_json_pointer, "") < b.value("/metadata/name"_json_pointer, "");
    });
    return pods;
  }

  Expected<Workload, Error> workload_of(const std::string& ns, const Kind& kind, const json& object,
                                        const Container& container) {
    Workload workload;
    workload.target = options.name;
    workload.name = ns + "/" + std::string(kind.singular) + "/" + object.value("/metadata/name"_json_pointer, "");
    // The workload object's own annotation; its pods' annotations are not read.
    workload.policy = detail::policy_of(object.value("/metadata/annotations"_json_pointer, json::object()));
    auto image = reference::parse(container.image);
    workload.image = image ? image->str() : container.image;
    auto pods = pods_of(ns, object);
    if (!pods) return unexpected(pods.error());
    std::set<std::string> digests;
    for (const json& pod : *pods) {
      workload.instances.push_back(pod.value("/metadata/name"_json_pointer, ""));
      std::string image_id;
      for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
        const json statuses = pod.value(json::json_pointer("/status/" + std::string(list)), json::array());
        for (const json& status : statuses)
          if (status.value("name", "") == container.name) image_id = status.value("imageID", "");
      }
      if (workload.image_id.empty()) workload.image_id = image_id;
      digests.insert(image_id_digest(image_id));
    }
    if (digests.size() == 1 && !digests.begin()->empty()) workload.digest = *digests.begin();
    return workload;
  }

  /// Polls the object until kubectl's rules say complete or failed, `timeout` runs out, or
  /// `stop` is requested; the status, with state waiting on timeout or stop.
  Expected<RolloutStatus, Error> wait(const std::string& ns, const Kind& kind, const std::string& name,
                                      std::chrono::milliseconds timeout, std::stop_token stop) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto object = get_object(ns, kind, name);
      if (!object) return unexpected(object.error());
      auto status = rollout_status(*object);
      if (!status) return unexpected(Error{ErrorKind::invalid, name + ": " + status.error(), 0});
      if (status->state != RolloutStatus::State::waiting) return *status;
      auto now = Clock::now();
      if (now >= deadline) {
        status->message = "timed out: " + status->message;
        return *status;
      }
      std::unique_lock lock(mutex);
      auto pause = std::min<Clock::duration>(options.poll_interval, deadline - now);
      wake.wait_for(lock, stop, pause, [] { return false; });
      if (stop.stop_requested()) {
        status->message = "cancelled";
        return *status;
      }
    }
  }
};

KubernetesTarget::KubernetesTarget(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubernetesTarget::~KubernetesTarget() = default;

Expected<std::unique_ptr<KubernetesTarget>, Error> KubernetesTarget::connect(KubernetesOptions options) {
  std::string path = kubeconfig_path(options.kubeconfig);
  if (path.empty()) return unexpected(Error{ErrorKind::invalid, "kubeconfig: no file given and HOME is not set", 0});
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(Error{ErrorKind::invalid, "kubeconfig: cannot read " + path, 0});
  std::string text(std::istreambuf_iterator<char>(in), {});
  auto credentials = parse_kubeconfig(text, fs::path(path).parent_path().string(), options.context);
  if (!credentials) {
    Error error = credentials.error();
    error.message = path + ": " + error.message;
    return unexpected(error);
  }
  auto impl = std::make_unique<Impl>();
  if (options.namespaces.empty())
    options.namespaces = {credentials->namespace_name.empty() ? "default" : credentials->namespace_name};
  impl->options = std::move(options);
  impl->credentials = std::move(*credentials);
  if (auto prepared = impl->prepare(); !prepared) return unexpected(prepared.error());
  return std::unique_ptr<KubernetesTarget>(new KubernetesTarget(std::move(impl)));
}

std::string KubernetesTarget::name() const { return impl_->options.name; }

Expected<std::vector<Workload>, Error> KubernetesTarget::inventory(const std::optional<reference::Reference>& repository) {
  std::vector<Workload> workloads;
  std::string wanted = repository ? repository->repository() : std::string();
  for (const std::string& ns : impl_->options.namespaces) {
    for (const Kind& kind : kKinds) {
      auto list = impl_->call("GET", Impl::object_path(ns, kind, ""));
      if (!list) return unexpected(list.error());
      for (json object : list->value("items", json::array())) {
        object["kind"] = kind.name;
        auto containers = containers_of(object, wanted);
        if (containers.empty()) continue;
        auto workload = impl_->workload_of(ns, kind, object, containers.front());
        if (!workload) return unexpected(workload.error());
        workloads.push_back(std::move(*workload));
      }
    }
  }
  return workloads;
}

namespace {

/// "ns/kind/name" split, with the kind looked up; nothing when malformed.
std::optional<std::tuple<std::string, const Kind*, std::string>> split_workload(const std::string& name) {
  std::size_t first = name.find('/');
  std::size_t second = first == std::string::npos ? first : name.find('/', first + 1);
  if (second == std::string::npos || name.find('/', second + 1) != std::string::npos) return std::nullopt;
  std::string kind_name = name.substr(first + 1, second - first - 1);
  for (const Kind& kind : kKinds)
    if (kind.singular == kind_name) return std::tuple{name.substr(0, first), &kind, name.substr(second + 1)};
  return std::nullopt;
}

/// Why a workload cannot be rolled by changing its template, or empty.
std::string blocked(const json& object) {
  if (object.value("/spec/paused"_json_pointer, false)) return "the deployment is paused (spec.paused)";
  if (object.value("/spec/updateStrategy/type"_json_pointer, "") == "OnDelete")
    return "updateStrategy OnDelete changes pods only when they are deleted";
  if (object.value("/spec/updateStrategy/rollingUpdate/partition"_json_pointer, 0) > 0)
    return "a rollingUpdate partition above 0 keeps pods on the old template";
  return {};
}

}  // namespace

Expected<RolloutResult, Error> KubernetesTarget::rollout(const Workload& workload, const reference::Reference& new_image,
                                                         const RolloutPolicy& policy, const StepSink& record,
                                                         std::stop_token stop) {
  auto parts = split_workload(workload.name);
  if (!parts)
    return unexpected(Error{ErrorKind::invalid, "workload '" + workload.name + "' is not namespace/kind/name", 0});
  const auto& [ns, kind, name] = *parts;
  if (new_image.digest.empty())
    return unexpected(Error{ErrorKind::invalid, "image " + new_image.str() + " has no digest; roll out repo@digest", 0});
  auto object = impl_->get_object(ns, *kind, name);
  if (!object) return unexpected(object.error());
  if (std::string reason = blocked(*object); !reason.empty())
    return unexpected(Error{ErrorKind::invalid, workload.name + ": " + reason, 0});
  auto containers = containers_of(*object, new_image.repository());
  if (containers.empty())
    return unexpected(Error{ErrorKind::invalid, workload.name + ": no container uses " + new_image.repository(), 0});
  std::vector<std::string> old_images, new_images(containers.size(), new_image.str());
  for (const Container& container : containers) old_images.push_back(container.image);

  RolloutResult result;
  InstanceResult instance{name, joined(old_images), new_image.str(), InstanceOutcome::unchanged, {}, {}};
  if (old_images == new_images) {
    result.instances.push_back(instance);
    return result;
  }
  auto emit = [&](StepState state, std::string detail) {
    if (record) record(Step{workload.name, name, joined(old_images), new_image.str(), state, std::move(detail)});
  };
  auto started = Clock::now();
  const std::string path = Impl::object_path(ns, *kind, name);
  auto patched = impl_->call("PATCH", path, image_patch(containers, new_images), "application/json-patch+json");
  if (!patched) return unexpected(patched.error());
  emit(StepState::updating, "patched to generation " +
                                std::to_string(patched->value("/metadata/generation"_json_pointer, 0LL)));
  auto status = impl_->wait(ns, *kind, name, policy.health_timeout, stop);
  if (!status) return unexpected(status.error());
  instance.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (status->state == RolloutStatus::State::complete) {
    instance.outcome = InstanceOutcome::updated;
    result.instances.push_back(instance);
    emit(StepState::healthy, status->message);
    return result;
  }
  result.reason = status->message;
  instance.detail = status->message;
  emit(StepState::failed, status->message);
  if (!policy.rollback) {
    result.outcome = RolloutResult::Outcome::failed;
    instance.outcome = InstanceOutcome::failed;
    result.instances.push_back(instance);
    return result;
  }
  // Rollback: the previous images back (PROTOCOLS.md 6.4, "simplest approach"); it runs even
  // after a stop request, bounded by the health timeout.
  auto restored = impl_->call("PATCH", path, image_patch(containers, old_images), "application/json-patch+json");
  auto settled = restored ? impl_->wait(ns, *kind, name, policy.health_timeout, {})
                          : Expected<RolloutStatus, Error>(unexpected(restored.error()));
  instance.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (settled && settled->state == RolloutStatus::State::complete) {
    result.outcome = RolloutResult::Outcome::rolled_back;
    instance.outcome = InstanceOutcome::rolled_back;
    emit(StepState::rolled_back, "previous images restored: " + settled->message);
  } else {
    std::string why = settled ? settled->message : settled.error().str();
    result.outcome = RolloutResult::Outcome::failed;
    result.reason += "; rollback failed: " + why;
    instance.outcome = InstanceOutcome::failed;
    emit(StepState::failed, "rollback failed: " + why);
  }
  result.instances.push_back(instance);
  return result;
}

Expected<void, Error> KubernetesTarget::recover(const std::string&, const RolloutPolicy&, const StepSink&) { return {}; }

}  // namespace cascade::deploy
