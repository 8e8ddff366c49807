// POST /api/runs/<id>/approve and /reject: a person's decision on a run that awaits its
// release, recorded under the name its bearer token maps to ("api" for the API token, an
// approver's name from triggers.approvers); the releaser then acts on it at once.
//   body (optional): {"target": "prod", "comment": "checked the canary", "urgent": true}
#include <charconv>

#include "internal.hpp"

namespace cascade::daemon {

using nlohmann::json;

void Routes::run_post(http::ServerRequest&& request, http::Respond respond) {
  std::string_view rest = std::string_view(request.path).substr(std::string_view("/api/runs/").size());
  auto slash = rest.find('/');
  std::string_view id_text = rest.substr(0, slash);
  std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  long long id = 0;
  auto [end, error] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (error != std::errc() || end != id_text.data() + id_text.size() || id <= 0 ||
      (action != "approve" && action != "reject"))
    return respond(json_error(404, "nothing at " + request.path + "; POST /api/runs/<id>/approve or /reject"));
  auto actor = actor_of(request);
  if (!actor) return respond(json_error(401, "missing or wrong bearer token"));
  json body = json::object();
  if (!request.body.empty()) {
    body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return respond(json_error(400, "the body must be a JSON object: {\"target\", \"comment\", \"urgent\"} (all optional)"));
  }
  for (const auto& [key, value] : body.items()) {
    bool known = (key == "target" || key == "comment") ? value.is_string() : key == "urgent" && value.is_boolean();
    if (!known)
      return respond(json_error(400, "unknown or mistyped field '" + key +
                                         "': the body takes \"target\" (string), \"comment\" (string), \"urgent\" (boolean)"));
  }
  app::ReleaseDecision decision{*actor, body.value("target", ""), action == "approve", body.value("comment", ""),
                                body.value("urgent", false)};
  if (decision.urgent && !decision.approved)
    return respond(json_error(400, "\"urgent\" goes with approve, not reject"));
  auto recorded = app::record_decision(wiring, id, decision);
  if (!recorded) {
    int status = recorded.error().kind == app::Failure::Kind::not_found  ? 404
                 : recorded.error().kind == app::Failure::Kind::conflict ? 409
                 : recorded.error().kind == app::Failure::Kind::bad_input ? 400
                                                                          : 500;
    if (status == 500) return respond(internal_error(500, request.path, recorded.error().message));
    return respond(json_error(status, recorded.error().message));
  }
  log.info(decision.approved ? "run approved" : "run rejected",
           {{"run", id}, {"actor", decision.actor}, {"target", decision.target}, {"urgent", decision.urgent}});
  if (wake_releaser) wake_releaser();
  respond(json_ok({{"run", id},
                   {"decision", decision.approved ? "approved" : "rejected"},
                   {"actor", decision.actor},
                   {"target", decision.target.empty() ? json(nullptr) : json(decision.target)},
                   {"urgent", decision.urgent}},
                  202));
}

}  // namespace cascade::daemon
