// The package and advisory side of the API. GET /api/affected?package=NAME[OP VERSION] and
// POST /api/affected (OSV records in the body) answer who carries a package, from the scans
// in the store. POST /api/advisories (bearer token) stores advisories (setting
// "advisory:<id>" := the OSV text, "advisories" := the ids) and answers with their exposure;
// with "patch": true it queues their fix run in the coordinator like every other trigger.
// GET /api/exposure is the dashboard's view per stored advisory, and the exposure gauges are
// set from the same view at each scrape of /metrics. Everything here runs on worker threads
// (GET /api/affected?image= is graph_api.cpp's; the route table is routes.cpp's).
#include <algorithm>
#include <atomic>
#include <set>

#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

namespace {

constexpr const char* kIndexKey = "advisories";  // setting: the JSON array of stored advisory ids
constexpr int kMaxDepth = 64;                     // an OSV record nests about 6 levels

std::string advisory_key(const std::string& id) { return "advisory:" + id; }

std::mutex& index_mutex() {  // the read-modify-write of the id list
  static std::mutex mutex;
  return mutex;
}

Expected<std::vector<std::string>, store::Error> stored_ids(store::Store& store) {
  auto text = store.get_setting(kIndexKey);
  if (!text) return unexpected(text.error());
  std::vector<std::string> ids;
  if (!*text) return ids;
  auto list = json::parse(**text, nullptr, false);
  if (list.is_array())
    for (const auto& id : list)
      if (id.is_string()) ids.push_back(id.get<std::string>());
  return ids;
}

/// The path of a value of the body: `prefix` ("advisories") joined with the path parse_osv
/// names inside it ("[1].affected[0]", "vulns[0].id", "").
std::string body_path(const std::string& prefix, const std::string& path) {
  if (prefix.empty() || path.empty()) return prefix + path;
  return path.front() == '[' ? prefix + path : prefix + "." + path;
}

/// The body as JSON; refused past kMaxDepth levels of nesting (before anything recurses on it).
Expected<json, std::string> parse_body(const std::string& text) {
  struct TooDeep {};
  try {
    return json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return unexpected(std::string("the body nests deeper than 64 levels; an OSV record nests about 6"));
  } catch (const json::parse_error& failure) {
    std::string what = failure.what();
    auto bracket = what.find("] ");
    return unexpected("the body is not valid JSON at byte " + std::to_string(failure.byte) + ": " +
                      (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

/// The OSV records of `documents` (one record, an array, or {"vulns": [...]}) found at `prefix`
/// of the body, as a question holding one text per advisory (so each can be stored by its id).
Expected<app::PackageQuestion, std::string> question_of(const json& documents, const std::string& prefix) {
  auto parsed = advisory::parse_osv(documents.dump());
  if (!parsed) {
    std::string path = body_path(prefix, parsed.error().path);
    return unexpected((path.empty() ? "" : path + ": ") + parsed.error().message);
  }
  std::vector<const json*> records;  // in the order parse_osv read them, one advisory each
  if (documents.is_array()) {
    for (const auto& record : documents) records.push_back(&record);
  } else if (documents.contains("vulns") && !documents.contains("id")) {
    for (const auto& record : documents["vulns"]) records.push_back(&record);
  } else {
    records.push_back(&documents);
  }
  if (parsed->empty())
    return unexpected((prefix.empty() ? std::string("the body") : prefix) + ": no advisory in it; give OSV records");
  if (records.size() != parsed->size())
    return unexpected(std::string("cannot tell which OSV record each advisory came from; send one record per element"));
  app::PackageQuestion question;
  for (std::size_t i = 0; i < records.size(); ++i) {
    question.advisories.push_back(std::move((*parsed)[i]));
    question.documents.push_back(records[i]->dump());
  }
  return question;
}

struct Body {
  app::PackageQuestion question;
  bool patch = false;
};

/// {"advisories": OSV, "patch": bool} (`patch` only where it applies), or OSV records alone.
Expected<Body, std::string> read_body(const std::string& text, bool patch_allowed) {
  auto body = parse_body(text);
  if (!body) return unexpected(body.error());
  Body out;
  if (!body->is_object() || !body->contains("advisories")) {
    auto question = question_of(*body, "");
    if (!question) return unexpected(question.error());
    out.question = std::move(*question);
    return out;
  }
  const std::string shape =
      patch_allowed ? "{\"advisories\": [OSV records], \"patch\": false}" : "{\"advisories\": [OSV records]}";
  for (const auto& [key, value] : body->items())
    if (key != "advisories" && (key != "patch" || !patch_allowed))
      return unexpected("unknown key '" + key + "' in the body; send " + shape + " or the OSV records alone");
  if (auto patch = body->find("patch"); patch != body->end()) {
    if (!patch->is_boolean())
      return unexpected(std::string("patch: expected true or false, found ") + patch->type_name());
    out.patch = patch->get<bool>();
  }
  auto question = question_of((*body)["advisories"], "advisories");
  if (!question) return unexpected(question.error());
  out.question = std::move(*question);
  return out;
}

/// The rows of `rows` (exposure_json items) matched by advisory `id`, and how many subjects.
std::pair<json, std::size_t> rows_of(const json& rows, const std::string& id) {
  json out = json::array();
  std::set<std::string> subjects;
  for (const auto& row : rows)
    if (row.value("matched_by", "") == id) {
      out.push_back(row);
      subjects.insert(row.value("subject", ""));
    }
  return {out, subjects.size()};
}

/// GET /api/exposure: {"advisories": [{"id", "aliases", "summary", "images_exposed",
/// "workloads_exposed", "images": [...], "workloads": [...], "bases": [...], "run"}],
/// "checked": {"images", "workloads"}, "unjudged": [...], "skipped": [...]}.
Expected<json, std::string> exposure_view(store::Store& store) {
  std::vector<std::string> skipped;
  auto question = stored_advisories(store, {}, &skipped);
  if (!question) return unexpected(question.error().message);
  json view = {{"advisories", json::array()}, {"checked", {{"images", 0}, {"workloads", 0}}},
               {"unjudged", json::array()}, {"skipped", skipped}};
  if (!*question) return view;
  auto report = app::exposure(store, **question);
  if (!report) return unexpected(report.error().message);
  json full = app::exposure_json(*report, **question);
  view["checked"] = full["checked"];
  view["unjudged"] = full["unjudged"];
  std::map<std::string, json> runs;  // advisory id -> its newest fix run
  if (auto recent = store.list_runs(50))
    for (const auto& run : *recent)
      for (const auto& id : run.trigger.advisories)  // a fix run's typed record names them
        runs.emplace(id, json{{"id", run.id}, {"state", store::to_string(run.state)}});
  for (const auto& item : full["advisories"]) {
    std::string id = item["id"];
    auto [images, image_count] = rows_of(full["images"], id);
    auto [workloads, workload_count] = rows_of(full["workloads"], id);
    auto [bases, base_count] = rows_of(full["bases"], id);
    (void)base_count;
    json entry = item;
    entry["images_exposed"] = image_count;
    entry["workloads_exposed"] = workload_count;
    entry["images"] = std::move(images);
    entry["workloads"] = std::move(workloads);
    entry["bases"] = std::move(bases);
    entry["run"] = runs.count(id) ? runs[id] : json(nullptr);
    view["advisories"].push_back(std::move(entry));
  }
  return view;
}

/// What the deploy targets run now, for a question about workloads (best effort, as the CLI).
void refresh_workloads(Routes& routes) {
  if (routes.pipeline.deploy.empty()) return;
  auto running = app::scan_workloads(routes.wiring);
  if (!running) routes.log.warn("workloads not refreshed", {{"error", running.error().message}});
}

}  // namespace

Expected<void, store::Error> store_advisories(store::Store& store, const app::PackageQuestion& question) {
  std::lock_guard lock(index_mutex());
  auto ids = stored_ids(store);
  if (!ids) return unexpected(ids.error());
  std::set<std::string> all(ids->begin(), ids->end());
  for (std::size_t i = 0; i < question.advisories.size() && i < question.documents.size(); ++i) {
    const std::string& id = question.advisories[i].id;
    if (auto put = store.put_setting(advisory_key(id), question.documents[i]); !put) return unexpected(put.error());
    all.insert(id);
  }
  // The texts first, then the list: a crash between leaves a text no list names, never the reverse.
  if (auto put = store.put_setting(kIndexKey, json(std::vector<std::string>(all.begin(), all.end())).dump()); !put)
    return unexpected(put.error());
  return {};
}

Expected<std::optional<app::PackageQuestion>, store::Error> stored_advisories(store::Store& store,
                                                                              const std::vector<std::string>& ids,
                                                                              std::vector<std::string>* skipped) {
  std::vector<std::string> wanted = ids;
  if (wanted.empty()) {
    auto all = stored_ids(store);
    if (!all) return unexpected(all.error());
    wanted = std::move(*all);
  }
  app::PackageQuestion question;
  for (const auto& id : wanted) {
    auto text = store.get_setting(advisory_key(id));
    if (!text) return unexpected(text.error());
    if (!*text) {
      if (skipped) skipped->push_back(id + ": not stored");
      continue;
    }
    auto parsed = advisory::parse_osv(**text);
    if (!parsed || parsed->empty()) {
      if (skipped) skipped->push_back(id + ": " + (parsed ? std::string("no advisory in it") : parsed.error().str()));
      continue;
    }
    for (auto& item : *parsed) {
      question.advisories.push_back(std::move(item));
      question.documents.push_back(**text);
    }
  }
  if (question.advisories.empty()) return std::optional<app::PackageQuestion>();
  return std::optional<app::PackageQuestion>(std::move(question));
}

void Routes::exposure_get(http::ServerRequest&& request, http::Respond respond) {
  auto view = exposure_view(*wiring.store);
  respond(view ? json_ok(*view) : internal_error(502, request.path, view.error()));
}

void Routes::affected_get(http::ServerRequest&& request, http::Respond respond) {
  auto package = request.query.find("package");
  if (package == request.query.end()) return image_affected_get(std::move(request), std::move(respond));
  if (request.query.count("image"))
    return respond(json_error(400, "give ?image=IMAGE or ?package=NAME[OP VERSION], not both"));
  auto constraint = advisory::parse_constraint(package->second);
  if (!constraint) return respond(json_error(400, "package '" + package->second + "': " + constraint.error()));
  app::PackageQuestion question;
  question.constraint = std::move(*constraint);
  refresh_workloads(*this);
  auto report = app::exposure(*wiring.store, question);
  respond(report ? json_ok(app::exposure_json(*report, question))
                 : internal_error(http_status(report.error()), request.path, report.error().message));
}

void Routes::affected_post(http::ServerRequest&& request, http::Respond respond) {
  auto body = read_body(request.body, false);
  if (!body) return respond(json_error(400, body.error()));
  refresh_workloads(*this);
  auto report = app::exposure(*wiring.store, body->question);
  if (!report) return respond(internal_error(http_status(report.error()), request.path, report.error().message));
  respond(json_ok(app::exposure_json(*report, body->question)));
}

void Routes::advisories_post(http::ServerRequest&& request, http::Respond respond) {
  auto body = read_body(request.body, true);
  if (!body) return respond(json_error(400, body.error()));
  if (auto stored = store_advisories(*wiring.store, body->question); !stored)
    return respond(internal_error(502, request.path, "cannot store the advisories: " + stored.error().message));
  refresh_workloads(*this);
  auto report = app::exposure(*wiring.store, body->question);
  if (!report) return respond(internal_error(http_status(report.error()), request.path, report.error().message));
  json stored = json::array();
  for (const auto& item : body->question.advisories) stored.push_back(item.id);
  log.info("advisories stored", {{"advisories", stored}, {"images_exposed", report->images.size()},
                                 {"workloads_exposed", report->workloads.size()}, {"patch", body->patch}});
  json answer = {{"stored", stored}, {"exposure", app::exposure_json(*report, body->question)}, {"patch", nullptr}};
  if (!body->patch) return respond(json_ok(answer));
  start_fix(std::make_shared<const app::PackageQuestion>(std::move(body->question)), std::move(answer), respond);
}

void Routes::start_fix(std::shared_ptr<const app::PackageQuestion> question, json answer, http::Respond respond) {
  store::Event event;
  event.sender = "api";
  event.image = "advisory:" + question->label();  // the run's trigger as users see it
  event.action = store::EventAction::fix;
  event.source = store::TriggerKind::api;
  for (const auto& item : question->advisories) event.advisories.push_back(item.id);  // what a restart asks again
  static std::atomic<std::uint64_t> counter{0};
  event.dedupe_key = "api:" + util::iso_now_ms() + ":fix:" + std::to_string(counter++);
  intake.submit({event}, [this, question, answer, image = event.image, respond](auto recorded) {
    if (!recorded) return respond(json_error(503, "the advisories are stored, the fix request is not; retry"));
    store::EventId id = recorded->front().id;
    Queued queued;
    queued.trigger.action = app::Trigger::Action::fix;
    queued.trigger.source = store::TriggerKind::api;
    queued.trigger.actor = "api";
    queued.trigger.image = image;
    queued.trigger.question = question;
    queued.events = {id};
    auto busy = coordinator.active();
    if (busy || coordinator.queued() > 0) {  // answer now; the caller follows the event
      json queued = answer;
      queued["patch"] = {{"event", id}, {"run", nullptr}, {"queued", true}, {"unfixed", json::array()},
                         {"message", busy ? "queued behind run " + std::to_string(busy->run) : "queued"}};
      respond(json_ok(queued, 202));
    } else {
      queued.done.push_back([id, answer, respond](const Answer& outcome) {
        json done = answer;
        done["patch"] = {{"event", id}, {"run", outcome.run ? json(*outcome.run) : json(nullptr)}, {"queued", false},
                         {"message", outcome.message}, {"unfixed", outcome.unfixed}};
        if (outcome.status >= 400) done["error"] = outcome.message;
        respond(json_ok(done, outcome.status));
      });
    }
    metrics.add("cascade_triggers_total", {"api", "accepted"});
    coordinator.add(std::move(queued), std::chrono::milliseconds(0));
  });
}

void Routes::refresh_exposure_metrics() {
  auto view = exposure_view(*wiring.store);
  if (!view) {
    log.warn("metrics: exposure not refreshed", {{"error", view.error()}});
    return;
  }
  for (const auto& item : (*view)["advisories"]) {
    Labels labels{item["id"].get<std::string>()};
    metrics.set("cascade_exposed_images", labels, item["images_exposed"].get<double>());
    metrics.set("cascade_exposed_workloads", labels, item["workloads_exposed"].get<double>());
  }
}

}  // namespace cascade::daemon
