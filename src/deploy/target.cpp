// DockerTarget: connecting, the inventory (containers grouped into workloads, each with its
// release policy from the io.cascade.policy label) and the pull.
#include <map>

#include "internal.hpp"

namespace cascade::deploy {

using detail::json;

DockerTarget::DockerTarget(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DockerTarget::~DockerTarget() = default;

Expected<std::unique_ptr<DockerTarget>, Error> DockerTarget::connect(DockerOptions options) {
  auto engine = detail::Engine::open(options);
  if (!engine) return unexpected(engine.error());
  auto negotiated = (*engine)->negotiate(options.max_api_version);
  if (!negotiated) return unexpected(negotiated.error());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->engine = std::move(*engine);
  return std::unique_ptr<DockerTarget>(new DockerTarget(std::move(impl)));
}

std::string DockerTarget::name() const { return impl_->options.name; }
std::string DockerTarget::api_version() const { return impl_->engine->version(); }
bool DockerTarget::is_podman() const { return impl_->engine->podman(); }

namespace {

std::string group_key(const json& labels, const std::string& group_label, const std::string& name) {
  auto label = [&](const std::string& key) {
    return labels.is_object() && labels.contains(key) && labels[key].is_string() ? labels[key].get<std::string>() : "";
  };
  if (!group_label.empty() && !label(group_label).empty()) return group_label + "=" + label(group_label);
  std::string project = label("com.docker.compose.project");
  std::string service = label("com.docker.compose.service");
  if (!project.empty() && !service.empty()) return project + "/" + service;
  return name;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The repo digest image `image_id` has in `repository`, when the engine knows one.
std::optional<std::string> repo_digest(detail::Engine& engine, const std::string& image_id, const std::string& repository) {
  auto image = engine.expect("GET", "/images/" + image_id + "/json", {200}, "inspect image");
  if (!image) return std::nullopt;
  for (const auto& entry : image->value("RepoDigests", json::array())) {
    std::string text = entry.get<std::string>();
    auto at = text.find('@');
    if (at == std::string::npos) continue;
    auto parsed = reference::parse(text.substr(0, at));
    if (parsed && parsed->repository() == repository) return text.substr(at + 1);
  }
  return std::nullopt;
}

// The reference a listed container was created from. dockerd lists a container by its image
// id instead once that reference names another image (its tag moved, PROTOCOLS.md 5.3);
// Config.Image still holds the reference.
std::string created_from(detail::Engine& engine, const json& container) {
  std::string listed = container.value("Image", "");
  if (listed != container.value("ImageID", "") && listed.rfind("sha256:", 0) != 0) return listed;
  auto inspected = detail::inspect_container(engine, container.value("Id", ""));
  if (!inspected) return listed;
  return inspected->value("Config", json::object()).value("Image", listed);
}

}  // namespace

namespace detail {

std::string policy_of(const json& labels) {
  if (!labels.is_object()) return {};
  auto found = labels.find(kPolicyLabel);
  if (found == labels.end() || !found->is_string()) return {};
  const std::string& value = found->get_ref<const std::string&>();
  constexpr std::string_view blanks = " \t\r\n";
  std::size_t first = value.find_first_not_of(blanks);
  if (first == std::string::npos) return {};
  return value.substr(first, value.find_last_not_of(blanks) - first + 1);
}

// Replicas of one workload disagree when a label was changed on some of them only. The
// workload then takes the policy that keeps a person in the loop: an unknown value (held,
// and the release says it is not understood, so the mismatch gets seen), then "hold" (no
// rollout without an approval that shows the whole workload), then "monitor" (reported,
// never touched), then "skip" (left out), then none. hold ranks above monitor and skip
// although those never touch anything: they also never ask anyone, and a replica asking
// for an approval is the one explicit request for a human to look; a skip still ranks above
// none, so a container someone excluded is not rolled along with unlabelled siblings.
// Equal ranks (two different unknown values) keep `a`, the earlier replica by name.
std::string stricter_policy(const std::string& a, const std::string& b) {
  auto rank = [](const std::string& policy) {
    if (policy.empty()) return 0;
    if (policy == "skip") return 1;
    if (policy == "monitor") return 2;
    if (policy == "hold") return 3;
    return 4;
  };
  return rank(b) > rank(a) ? b : a;
}

}  // namespace detail

Expected<std::vector<Workload>, Error> DockerTarget::inventory(const std::optional<reference::Reference>& repository) {
  auto listed = detail::list_containers(*impl_->engine);
  if (!listed) return unexpected(listed.error());
  struct Member {
    std::string name, id, policy;
  };
  std::map<std::string, Workload> workloads;
  std::map<std::string, std::vector<Member>> members;
  std::map<std::string, std::string> repositories;
  for (const auto& container : *listed) {
    auto names = container.value("Names", json::array());
    std::string name = names.empty() ? "" : names[0].get<std::string>();
    if (!name.empty() && name.front() == '/') name.erase(0, 1);
    if (ends_with(name, kOldSuffix)) continue;  // a rollout's old container, not a workload of its own
    std::string image_text = created_from(*impl_->engine, container);
    auto parsed = reference::parse(image_text);
    if (repository && (!parsed || parsed->repository() != repository->repository())) continue;
    json labels = container.value("Labels", json::object());
    std::string key = group_key(labels, impl_->options.group_label, name);
    Workload& workload = workloads[key];
    if (workload.name.empty()) {
      workload.target = impl_->options.name;
      workload.name = key;
      workload.image = parsed ? parsed->str() : image_text;
      workload.image_id = container.value("ImageID", "");
      if (parsed) repositories[key] = parsed->repository();
    }
    members[key].push_back({name, container.value("Id", ""), detail::policy_of(labels)});
  }
  std::vector<Workload> result;
  for (auto& [key, workload] : workloads) {
    auto& group = members[key];
    std::sort(group.begin(), group.end(), [](const Member& a, const Member& b) { return a.name < b.name; });
    for (const auto& member : group) {
      workload.instances.push_back(member.id);
      workload.policy = detail::stricter_policy(workload.policy, member.policy);
    }
    if (repositories.contains(key)) workload.digest = repo_digest(*impl_->engine, workload.image_id, repositories[key]);
    result.push_back(std::move(workload));
  }
  return result;
}

Expected<RolloutResult, Error> DockerTarget::rollout(const Workload& workload, const reference::Reference& new_image,
                                                     const RolloutPolicy& policy, const StepSink& record,
                                                     std::stop_token stop) {
  return impl_->rollout(workload, new_image, policy, record, std::move(stop));
}

Expected<void, Error> DockerTarget::recover(const std::string& run_tag, const RolloutPolicy& policy,
                                            const StepSink& record) {
  return impl_->recover(run_tag, policy, record);
}

}  // namespace cascade::deploy

namespace cascade::deploy::detail {

Expected<std::string, Error> pull_image(Engine& engine, const reference::Reference& image,
                                        const registry::CredentialOptions& credentials) {
  if (image.digest.empty())
    return unexpected(Error{ErrorKind::invalid, "the new image must be pinned by digest: " + image.str()});
  std::string pinned = image.repository() + "@" + image.digest;
  auto found = registry::find_credentials(image.domain, credentials);
  if (!found) return unexpected(Error{ErrorKind::pull, pinned + ": credentials: " + found.error().str()});
  std::vector<std::pair<std::string, std::string>> headers;
  std::string auth = registry_auth_header(*found, image.domain);
  if (!auth.empty()) headers.emplace_back("X-Registry-Auth", auth);  // never logged
  auto reply = engine.call("POST", "/images/create?fromImage=" + util::percent_encode(image.repository()) +
                                       "&tag=" + util::percent_encode(image.digest), {}, headers);
  if (!reply) return unexpected(Error{ErrorKind::pull, pinned + ": " + reply.error().message});
  if (reply->status != 200) {
    auto body = json::parse(reply->body, nullptr, false);
    std::string message = body.is_object() ? body.value("message", "") : "";
    return unexpected(Error{ErrorKind::pull, pinned + ": HTTP " + std::to_string(reply->status) +
                                                 (message.empty() ? "" : ": " + message), reply->status});
  }
  if (auto failed = pull_stream_error(reply->body)) return unexpected(Error{ErrorKind::pull, pinned + ": " + *failed});
  auto inspected = engine.expect("GET", "/images/" + pinned + "/json", {200}, "inspect pulled " + pinned);
  if (!inspected) return unexpected(Error{ErrorKind::pull, inspected.error().message});
  return inspected->value("Id", "");
}

}  // namespace cascade::deploy::detail
