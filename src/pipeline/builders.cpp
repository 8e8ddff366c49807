// The `builders:` section: the build workers cascade hands builds to (kind, endpoint, TLS,
// capacity, network, labels), build secrets (an environment variable or a file), the pull
// policy, pruning and buildah's storage driver; and the `builder:` choices of sources and
// recipes, each checked against the declared workers.
#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace {

const Section kBuilders{"builders", {{"workers"}, {"pull"}, {"storage_driver"}, {"prune"}, {"secrets"}}};
const Section kWorker{"worker",
                      {{"name", true}, {"kind", true}, {"endpoint"}, {"tls"}, {"insecure"}, {"capacity"},
                       {"network"}, {"labels"}}};
const Section kSecret{"secret", {{"id", true}, {"env"}, {"file"}}};
const Section kPrune{"prune", {{"keep_runs", true}}};
const Section kChoice{"builder choice", {{"name"}, {"labels"}}};

struct KindName {
  WorkerKind kind;
  std::string_view name;
};
constexpr std::array<KindName, 3> kWorkerKinds{
    {{WorkerKind::buildah, "buildah"}, {WorkerKind::docker, "docker"}, {WorkerKind::buildkit, "buildkit"}}};


std::string_view name_of(WorkerKind kind) { return kWorkerKinds[static_cast<std::size_t>(kind)].name; }


/// [a-z0-9][a-z0-9._-]*, as source and target names.
bool valid_worker_name(std::string_view name) {
  auto lower_or_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (name.empty() || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return lower_or_digit(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

/// [A-Za-z0-9][A-Za-z0-9._-]*: what `RUN --mount=type=secret,id=ID` can name.
bool valid_secret_id(std::string_view id) {
  auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
  if (id.empty() || !alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(), [&](char ch) { return alnum(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

Expected<std::string, Error> read_worker_name(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto name, read_nonempty(context.report, node, "name"));
  if (!valid_worker_name(name))
    return unexpected(context.report.at(node, "worker name " + quote(name) +
                                                  " must match [a-z0-9][a-z0-9._-]*: lowercase letters, digits, "
                                                  "'.', '_' and '-', starting with a letter or digit"));
  return name;
}

Expected<WorkerKind, Error> read_kind(const Context& context, const YAML::Node& node, const std::string& worker) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "kind"));
  for (const KindName& kind : kWorkerKinds)
    if (kind.name == text) return kind.kind;
  return unexpected(context.report.at(node, "worker " + quote(worker) + ": unknown kind " + quote(text) +
                                                "; known: buildah, docker, buildkit"));
}

/// Fails on a key the worker's kind does not take, or a missing endpoint.
Status check_kind_keys(const Context& context, const Fields& fields, const Worker& worker) {
  const std::string prefix = "worker " + quote(worker.name) + ": ";
  if (worker.kind == WorkerKind::buildah) {
    for (std::string_view key : {"endpoint", "tls"}) {
      if (fields.find(key))
        return unexpected(context.report.at(key_node(fields.mapping(), key),
                                            prefix + quote(key) + " does not apply to kind 'buildah', which "
                                                                   "builds on the cascade host; remove it, or "
                                                                   "use kind 'docker' or 'buildkit'"));
    }
  } else if (!fields.find("endpoint")) {
    return unexpected(context.report.at(fields.mapping(),
                                        prefix + "kind " + quote(name_of(worker.kind)) +
                                            " needs an 'endpoint': unix:///path/to.sock or tcp://host:port"));
  }
  if (worker.kind != WorkerKind::docker && fields.find("network"))
    return unexpected(context.report.at(key_node(fields.mapping(), "network"),
                                        prefix + "'network' applies only to kind 'docker'; remove it"));
  return {};
}

// A tcp:// endpoint without TLS hands builds (and their secrets) to anyone on the path:
// it needs `insecure: true`, said out loud; and `insecure: true` anywhere else would only
// suggest a setting that does nothing.
Status check_transport(const Context& context, const Fields& fields, const Worker& worker) {
  bool plain_tcp = worker.endpoint.rfind("tcp://", 0) == 0 && !worker.tls;
  if (plain_tcp && !worker.insecure)
    return unexpected(context.report.at(fields.get("endpoint"),
                                        "worker " + quote(worker.name) + ": 'endpoint' " + quote(worker.endpoint) +
                                            " without 'tls' sends builds and their secrets unencrypted and "
                                            "unauthenticated; add 'tls: {ca, cert, key}', or set 'insecure: true' "
                                            "on the worker to accept that"));
  if (worker.insecure && !plain_tcp)
    return unexpected(context.report.at(fields.get("insecure"),
                                        "worker " + quote(worker.name) +
                                            ": 'insecure: true' applies only to a tcp:// endpoint without 'tls'; "
                                            "remove it"));
  return {};
}

Expected<Worker, Error> read_worker(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kWorker));
  Worker worker;
  worker.mark = mark_of(node);
  CASCADE_TRY_ASSIGN(worker.name, read_worker_name(context, fields.get("name")));
  CASCADE_TRY_ASSIGN(worker.kind, read_kind(context, fields.get("kind"), worker.name));
  CASCADE_TRY(check_kind_keys(context, fields, worker));
  if (auto value = fields.find("endpoint")) CASCADE_TRY_ASSIGN(worker.endpoint, read_endpoint(context, *value));
  if (auto value = fields.find("tls")) {
    CASCADE_TRY_ASSIGN(worker.tls, read_tls(context, *value, worker.endpoint, TlsCheck::files_readable));
  }
  if (auto value = fields.find("insecure")) {
    CASCADE_TRY_ASSIGN(worker.insecure, read_bool(context.report, *value, "insecure"));
  }
  CASCADE_TRY(check_transport(context, fields, worker));
  if (auto value = fields.find("capacity")) {
    CASCADE_TRY_ASSIGN(worker.capacity, read_count(context.report, *value, "capacity", 1));
  }
  if (auto value = fields.find("network")) {
    CASCADE_TRY_ASSIGN(worker.network, read_nonempty(context.report, *value, "network"));
  }
  if (auto value = fields.find("labels")) {
    CASCADE_TRY_ASSIGN(worker.labels, read_string_map(context.report, *value, "labels"));
  }
  return worker;
}

Expected<std::vector<Worker>, Error> read_workers(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "workers"));
  if (node.size() == 0)
    return unexpected(context.report.at(node, "'workers' is empty: list at least one worker, or remove the key "
                                              "to build with the local buildah worker"));
  std::vector<Worker> workers;
  std::map<std::string, int> lines;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto worker, read_worker(context, entry));
    if (auto first = lines.find(worker.name); first != lines.end())
      return unexpected(context.report.at(entry["name"], "worker name " + quote(worker.name) +
                                                             " is already used by the worker at line " +
                                                             std::to_string(first->second) +
                                                             "; give each worker a unique name"));
    lines.emplace(worker.name, worker.mark.line);
    workers.push_back(std::move(worker));
  }
  return workers;
}

Expected<BuildSecret, Error> read_secret(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kSecret));
  BuildSecret secret;
  secret.mark = mark_of(node);
  YAML::Node id_node = fields.get("id");
  CASCADE_TRY_ASSIGN(secret.id, read_nonempty(context.report, id_node, "id"));
  if (!valid_secret_id(secret.id))
    return unexpected(context.report.at(id_node, "secret id " + quote(secret.id) +
                                                     " must match [A-Za-z0-9][A-Za-z0-9._-]*, as "
                                                     "RUN --mount=type=secret,id=ID names it"));
  auto env = fields.find("env");
  auto file = fields.find("file");
  if (env.has_value() == file.has_value())
    return unexpected(context.report.at(node, "secret " + quote(secret.id) + " has " +
                                                  (env ? "both 'env' and 'file'" : "neither 'env' nor 'file'") +
                                                  "; give exactly one: env: VARIABLE or file: path"));
  if (env) CASCADE_TRY_ASSIGN(secret.env, read_env_name(context.report, *env, "env"));
  if (file) {
    CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, *file, "file"));
    auto path = resolve_local(text, context.directory, context.env);
    if (!path) return unexpected(context.report.at(*file, "'file': " + path.error()));
    CASCADE_TRY(check_readable_file(context, *file, "secret " + quote(secret.id) + " file", *path));
    secret.file = *path;
  }
  return secret;
}

Expected<std::vector<BuildSecret>, Error> read_secrets(const Context& context, const YAML::Node& node) {
  CASCADE_TRY(expect_list(context.report, node, "secrets"));
  std::vector<BuildSecret> secrets;
  std::map<std::string, int> lines;
  for (const YAML::Node& entry : node) {
    CASCADE_TRY_ASSIGN(auto secret, read_secret(context, entry));
    if (auto first = lines.find(secret.id); first != lines.end())
      return unexpected(context.report.at(entry["id"], "secret id " + quote(secret.id) +
                                                           " is already used by the secret at line " +
                                                           std::to_string(first->second) +
                                                           "; give each secret a unique id"));
    lines.emplace(secret.id, secret.mark.line);
    secrets.push_back(std::move(secret));
  }
  return secrets;
}

Expected<PullPolicy, Error> read_pull(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "pull"));
  if (text == "missing") return PullPolicy::missing;
  if (text == "always") return PullPolicy::always;
  return unexpected(context.report.at(node, "'pull' must be missing or always, not " + quote(text)));
}

Expected<std::string, Error> read_storage_driver(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, node, "storage_driver"));
  if (text != "overlay" && text != "vfs")
    return unexpected(context.report.at(node, "'storage_driver' must be overlay or vfs, not " + quote(text) +
                                                  "; remove the key to detect it at start"));
  return text;
}

Expected<int, Error> read_prune(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kPrune));
  CASCADE_TRY_ASSIGN(auto keep_runs, read_count(context.report, fields.get("keep_runs"), "keep_runs", 1));
  return static_cast<int>(keep_runs);
}

/// The workers choices are checked against: the declared ones, else the implicit local one.
std::vector<Worker> effective_workers(const Builders& builders) {
  if (!builders.workers.empty()) return builders.workers;
  Worker local;
  local.name = "local";
  local.kind = WorkerKind::buildah;
  return {local};
}

bool satisfies(const Worker& worker, const WorkerChoice& choice) {
  if (!choice.name.empty() && worker.name != choice.name) return false;
  return std::all_of(choice.labels.begin(), choice.labels.end(), [&](const auto& label) {
    auto found = worker.labels.find(label.first);
    return found != worker.labels.end() && found->second == label.second;
  });
}

/// "{arch: amd64, pool: fast}".
std::string flow_map(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const auto& [key, value] : values) out += (out.empty() ? "" : ", ") + key + ": " + value;
  return "{" + out + "}";
}

/// The choice as written: "{name: docker-a, labels: {arch: amd64}}".
std::string describe(const WorkerChoice& choice) {
  std::string out;
  if (!choice.name.empty()) out = "name: " + choice.name;
  if (!choice.labels.empty()) out += (out.empty() ? "" : ", ") + std::string("labels: ") + flow_map(choice.labels);
  return "{" + out + "}";
}

/// "local (buildah, no labels), docker-a (docker, labels {arch: amd64})".
std::string describe(const std::vector<Worker>& workers) {
  std::string out;
  for (const Worker& worker : workers) {
    if (!out.empty()) out += ", ";
    out += worker.name + " (" + std::string(name_of(worker.kind)) + ", " +
           (worker.labels.empty() ? std::string("no labels") : "labels " + flow_map(worker.labels)) + ")";
  }
  return out;
}

/// Why no worker satisfies `choice`.
std::string mismatch(const std::vector<Worker>& workers, const WorkerChoice& choice) {
  if (!choice.name.empty()) {
    auto named = std::find_if(workers.begin(), workers.end(), [&](const Worker& w) { return w.name == choice.name; });
    if (named == workers.end()) return "no worker is named " + quote(choice.name);
    std::map<std::string, std::string> missing;
    for (const auto& [key, value] : choice.labels) {
      auto found = named->labels.find(key);
      if (found == named->labels.end() || found->second != value) missing.emplace(key, value);
    }
    return "worker " + quote(choice.name) + " does not carry the labels " + flow_map(missing);
  }
  return "no worker carries all of the labels " + flow_map(choice.labels);
}

Status check_choice(const Context& context, const Builders& builders, const std::optional<WorkerChoice>& choice,
                    const std::string& owner) {
  if (!choice) return {};
  std::vector<Worker> workers = effective_workers(builders);
  if (std::any_of(workers.begin(), workers.end(), [&](const Worker& w) { return satisfies(w, *choice); })) return {};
  std::string known = "the workers are: " + describe(workers);
  if (builders.workers.empty()) known += " (implicit: the file declares no 'builders.workers')";
  return unexpected(Error{context.report.file(), choice->mark.line, choice->mark.column,
                          owner + ": builder " + describe(*choice) + " matches no worker: " +
                              mismatch(workers, *choice) + "; " + known +
                              ". Change the choice, or declare a worker that satisfies it under 'builders.workers'"});
}

}  // namespace

Expected<Builders, Error> read_builders(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kBuilders));
  Builders builders;
  builders.mark = mark_of(node);
  if (auto value = fields.find("workers")) CASCADE_TRY_ASSIGN(builders.workers, read_workers(context, *value));
  if (auto value = fields.find("pull")) CASCADE_TRY_ASSIGN(builders.pull, read_pull(context, *value));
  if (auto value = fields.find("storage_driver")) {
    CASCADE_TRY_ASSIGN(builders.storage_driver, read_storage_driver(context, *value));
  }
  if (auto value = fields.find("prune")) CASCADE_TRY_ASSIGN(builders.prune_keep_runs, read_prune(context, *value));
  if (auto value = fields.find("secrets")) CASCADE_TRY_ASSIGN(builders.secrets, read_secrets(context, *value));
  return builders;
}

Expected<WorkerChoice, Error> read_worker_choice(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kChoice));
  WorkerChoice choice;
  choice.mark = mark_of(node);
  if (auto value = fields.find("name")) CASCADE_TRY_ASSIGN(choice.name, read_nonempty(context.report, *value, "name"));
  if (auto value = fields.find("labels")) {
    CASCADE_TRY_ASSIGN(choice.labels, read_string_map(context.report, *value, "labels"));
  }
  return choice;
}

Status check_worker_choices(const Context& context, const Pipeline& pipeline) {
  for (const Source& source : pipeline.sources) {
    const std::string of_source = " of source " + quote(source.name);
    CASCADE_TRY(check_choice(context, pipeline.builders, source.builder, "source " + quote(source.name)));
    for (const ImageRecipe& recipe : source.images) {
      CASCADE_TRY(check_choice(context, pipeline.builders, recipe.builder,
                               "image recipe " + quote(recipe.image) + of_source));
    }
    for (const Discover& discover : source.discover) {
      CASCADE_TRY(check_choice(context, pipeline.builders, discover.builder,
                               "discover entry " + quote(discover.dockerfiles) + of_source));
    }
  }
  return {};
}

}  // namespace cascade::pipeline::detail
