// The one path every trigger takes (see trigger.hpp): a patch, as asked or as a notice
// confirmed with the registry; a rebuild; a refresh of the external bases; a scan; a fix;
// a resume. "Already up to date" is decided here and nowhere else: a notice whose digest
// the image was last cascaded to, or a plan with nothing to build.
#include "cascade/trigger.hpp"

#include <algorithm>

#include "cascade/exposure.hpp"

namespace cascade::app {

namespace {

bool builds_anything(const plan::Plan& plan) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [](const plan::Step& step) { return step.action == plan::Action::build; });
}

void refresh(const HandleOptions& options) {
  if (options.refresh_fleet) options.refresh_fleet();
}

void note(const HandleOptions& options, const std::string& message) {
  if (options.note) options.note(message);
}

Expected<Handled, Failure> ran(Expected<RunResult, Failure> result, bool resumed) {
  if (!result) return unexpected(result.error());
  Handled handled;
  handled.result = Handled::Result::ran;
  handled.run = *result;
  handled.resumed = resumed;
  handled.message = (resumed ? "finished run " : "ran run ") + std::to_string(result->run);
  return handled;
}

Handled up_to_date(std::string message, std::optional<store::RunId> by = std::nullopt) {
  Handled handled;
  handled.result = Handled::Result::up_to_date;
  handled.message = std::move(message);
  handled.by = by;
  return handled;
}

// Runs the plan, or finishes an unfinished run of the same trigger instead of repeating it.
Expected<Handled, Failure> run_or_finish(Wiring& wiring, const PlannedPatch& planned, const HandleOptions& options) {
  if (auto unfinished = unfinished_run_for(wiring, planned)) {
    if (options.finishing) options.finishing(*unfinished);
    return ran(resume(wiring, *unfinished, options.run), true);
  }
  return ran(run_patch(wiring, planned, options.run), false);
}

// What the tag of a notice points at now. A tag not yet at the notified digest is asked
// again later (docker-registry notifies a push before it moves the tag); then the notice
// counts as overtaken by a later push and the current digest is cascaded.
Expected<std::string, Failure> confirmed_digest(Wiring& wiring, const Trigger& trigger, const reference::Reference& ref,
                                                const HandleOptions& options) {
  auto resolved = wiring.registry->resolve_digest(ref.without_digest());
  if (resolved) {
    if (trigger.digest && *trigger.digest != *resolved) {
      if (options.may_retry && options.attempt < options.catch_up_tries)
        return unexpected(Failure::unavailable("the tag " + trigger.image + " is at " + resolved->substr(0, 19) +
                                               ", not yet at the notified " + trigger.digest->substr(0, 19)));
      note(options, "the tag " + trigger.image + " moved on since the notice (" + trigger.digest->substr(0, 19) +
                        "); cascading its current digest " + resolved->substr(0, 19));
    }
    return *resolved;
  }
  if (resolved.error().transient())  // the registry is briefly away: the notice waits
    return unexpected(Failure::unavailable("cannot resolve " + trigger.image + ": " + resolved.error().str()));
  if (!trigger.digest) return unexpected(Failure::failed("cannot resolve " + trigger.image + ": " + resolved.error().str()));
  note(options, "cannot confirm the digest of " + trigger.image + " with the registry (" + resolved.error().str() +
                    "); using the reported one");
  return *trigger.digest;
}

// A push notice: a hint, confirmed with the registry, checked against what the image was
// last cascaded to, planned on the Dockerfiles as they are now.
Expected<Handled, Failure> handle_notice(Wiring& wiring, const Trigger& trigger, const reference::Reference& ref,
                                         const HandleOptions& options) {
  auto digest = confirmed_digest(wiring, trigger, ref, options);
  if (!digest) return unexpected(digest.error());
  std::string image = ref.without_digest().str();
  auto latest = wiring.store->latest_digest(image);
  if (!latest) return unexpected(Failure::failed("cannot read the digests of " + image + ": " + latest.error().message));
  if (*latest && (*latest)->digest == *digest) {
    std::string by = (*latest)->run ? " (run " + std::to_string(*(*latest)->run) + ")" : "";
    return up_to_date(trigger.image + " is already at " + digest->substr(0, 19) + by, (*latest)->run);
  }
  refresh(options);
  if (wiring.fleet->graph.match(ref).empty())
    return unexpected(Failure::bad_input("no image in the fleet matches " + trigger.image));
  auto planned = plan_patch(wiring, image + "@" + *digest, {}, options.deploy);
  if (!planned) return unexpected(planned.error());
  if (!builds_anything(planned->plan)) {
    if (auto recorded = wiring.store->record_digest(image, *digest, store::DigestSource::registry); !recorded)
      return unexpected(Failure::failed("cannot record the digest of " + image + ": " + recorded.error().message));
    return up_to_date("nothing to rebuild: every image is already built on " + digest->substr(0, 19));
  }
  auto handled = ran(run_patch(wiring, *planned, options.run), false);
  if (handled && handled->run->state == store::RunState::succeeded)  // the next notice of it is up to date
    if (auto recorded = wiring.store->record_digest(image, *digest, store::DigestSource::registry, handled->run->run);
        !recorded)
      note(options, "cannot record the digest of " + image + ": " + recorded.error().message +
                        " (its next notice plans again, and finds every image built)");
  if (handled) handled->digest = *digest;
  return handled;
}

Expected<Handled, Failure> handle_patch(Wiring& wiring, const Trigger& trigger, const HandleOptions& options) {
  auto ref = reference::parse(trigger.image);
  if (!ref) return unexpected(Failure::bad_input("'" + trigger.image + "' is not an image reference: " + ref.error().message));
  if (trigger.exact) {  // as asked: the query, with its digest when it has one
    refresh(options);
    auto planned = plan_patch(wiring, trigger.image, {}, options.deploy);
    if (!planned) return unexpected(planned.error());
    return run_or_finish(wiring, *planned, options);
  }
  // Against the fleet as last read: a notice of an image it does not build on costs no git fetch.
  if (wiring.fleet->graph.match(*ref).empty())
    return unexpected(Failure::bad_input("no image in the fleet matches " + trigger.image));
  return handle_notice(wiring, trigger, *ref, options);
}

// A patch notice for every external base whose digest moved since it was last cascaded.
Expected<Handled, Failure> handle_refresh(Wiring& wiring, const Trigger& trigger, const HandleOptions& options) {
  refresh(options);
  auto fleet = wiring.fleet.get();  // one snapshot while it is read
  const auto& graph = fleet->graph;
  Handled handled;
  for (auto id : graph.external()) {
    const std::string& image = graph.node(id).image;
    auto ref = reference::parse(image);
    if (!ref || !ref->digest.empty()) continue;  // a base pinned by digest never changes
    auto digest = wiring.registry->resolve_digest(*ref);
    if (!digest) {
      handled.problems.emplace_back(image, "cannot resolve: " + digest.error().str());
      continue;
    }
    auto latest = wiring.store->latest_digest(image);
    if (latest && *latest && (*latest)->digest == *digest) continue;
    Trigger patch;
    patch.source = trigger.source;
    patch.actor = trigger.actor;
    patch.image = image;
    patch.digest = *digest;
    handled.follow_ups.push_back(std::move(patch));
  }
  handled.message = std::to_string(handled.follow_ups.size()) + " bases changed";
  return handled;
}

Expected<Handled, Failure> handle_scan(Wiring& wiring, const HandleOptions& options) {
  refresh(options);
  auto report = scan_fleet(wiring, true);
  if (!report) return unexpected(Failure{report.error().kind, "scan failed: " + report.error().message});
  Handled handled;
  for (const auto& failed : report->failed) handled.problems.emplace_back(failed.subject, failed.reason);
  const auto& stats = report->stats;
  handled.message = "scanned " + std::to_string(report->images) + " images and " + std::to_string(report->workloads) +
                    " workloads, " + std::to_string(report->failed.size()) + " failed";
  note(options, "scan: indexed the fleet: " + handled.message + " (layers read " + std::to_string(stats.layers_read) +
                    ", known " + std::to_string(stats.layers_known) + ", bytes read " + std::to_string(stats.bytes_read) +
                    ", " + std::to_string(report->seconds) + " s)");
  return handled;
}

Expected<Handled, Failure> handle_fix(Wiring& wiring, const Trigger& trigger, const HandleOptions& options) {
  refresh(options);
  std::string label = trigger.question->label();
  std::vector<std::string> unfixed;
  auto planned = plan_fix(wiring, *trigger.question, options.deploy, unfixed);
  Expected<Handled, Failure> handled = unexpected(Failure{});
  if (!planned) {
    handled = unexpected(planned.error());
  } else if (!builds_anything(planned->plan)) {
    handled = up_to_date(unfixed.empty() ? "nothing to rebuild: no image is exposed to " + label
                                         : "nothing to rebuild yet: the exposure to " + label +
                                               " enters through bases not fixed upstream");
  } else {  // as for an exact patch: an unfinished fix of the same question is finished, not repeated
    planned->unfixed = unfixed;  // the run's callers hear them when it starts
    handled = run_or_finish(wiring, *planned, options);
  }
  if (handled) handled->unfixed = std::move(unfixed);
  else if (!unfixed.empty()) note(options, "not fixed upstream yet: " + unfixed.front());
  return handled;
}

Expected<Handled, Failure> handle_rebuild(Wiring& wiring, const Trigger& trigger, const HandleOptions& options) {
  refresh(options);
  auto planned = plan_rebuild(wiring, trigger.globs, options.deploy);
  if (!planned) return unexpected(planned.error());
  return ran(run_patch(wiring, *planned, options.run), false);
}

}  // namespace

std::string Trigger::key() const {
  switch (action) {
    case Action::patch: return "patch:" + image;
    case Action::refresh: return "refresh";
    case Action::scan: return "scan";
    case Action::resume: return "resume:" + std::to_string(run);
    case Action::fix: return "fix:" + (question ? question->label() : image);
    case Action::rebuild: {
      std::string key = "rebuild:";
      for (const auto& glob : globs) key += glob + ",";
      return key;
    }
  }
  return image;
}

std::string Trigger::label() const { return image.empty() ? key() : image; }

Decision decide(const std::optional<ActiveRun>& active, const Trigger& trigger) {
  if (!active || trigger.action != Trigger::Action::patch || trigger.exact) return Decision::follow;
  bool same = trigger.image == active->image && (!trigger.digest || trigger.digest == active->digest);
  return same || active->images.count(trigger.image) ? Decision::join : Decision::follow;
}

Expected<Handled, Failure> handle(Wiring& wiring, const Trigger& trigger, const HandleOptions& given) {
  HandleOptions urgent_options;
  if (trigger.urgent) {  // the trigger marks its run urgent
    urgent_options = given;
    urgent_options.run.urgent = true;
  }
  const HandleOptions& options = trigger.urgent ? urgent_options : given;
  switch (trigger.action) {
    case Trigger::Action::patch: return handle_patch(wiring, trigger, options);
    case Trigger::Action::rebuild: return handle_rebuild(wiring, trigger, options);
    case Trigger::Action::refresh: return handle_refresh(wiring, trigger, options);
    case Trigger::Action::scan: return handle_scan(wiring, options);
    case Trigger::Action::fix: return handle_fix(wiring, trigger, options);
    case Trigger::Action::resume: return ran(resume(wiring, trigger.run, options.run), true);
  }
  return unexpected(Failure::bad_input("unknown trigger"));
}

}  // namespace cascade::app
