// The one path every trigger takes. A person's `cascade patch`, POST /api/patch, a registry
// webhook, a schedule firing (rebuild, refresh, scan), an advisory's fix and the resume of
// an unfinished run all become one app::Trigger value, handed to app::handle(), which
// decides whether the image is already up to date, plans, and runs. Whether a trigger joins
// the run in progress or follows it is decided by app::decide(). The daemon adds only
// HTTP, the durable intake, debounce, retry timing and the schedule's clock.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cascade/app.hpp"

namespace cascade::app {

struct PackageQuestion;  // exposure.hpp

struct Trigger {
  enum class Action {
    patch,    // `image` (and `digest`) changed: rebuild what is built on it
    rebuild,  // rebuild the fleet images matching `globs` (all when empty), even when current
    refresh,  // resolve every external base; a patch for each that moved (follow-ups)
    scan,     // index the packages of every fleet image and workload
    fix,      // the run that closes `question`'s exposure
    resume,   // finish run `run`
  };
  Action action = Action::patch;
  store::TriggerKind source = store::TriggerKind::cli;  // who asked: cli, api, webhook, schedule
  std::string actor = "cli";          // "cli", "api", "distribution", "schedule:nightly"
  std::string image;                  // patch: IMAGE or IMAGE@DIGEST
  std::optional<std::string> digest;  // patch: the digest the sender reported
  // patch: planned as asked (a person's CLI or API patch) - no registry confirmation, no
  // up-to-date check, and an unfinished run of the same image and digest is finished.
  // Otherwise a notice: a hint confirmed with the registry first.
  bool exact = false;
  // `--urgent`, "urgent": true: the run skips approvals and windows on the targets that allow it
  bool urgent = false;
  std::vector<std::string> globs;                   // rebuild
  std::shared_ptr<const PackageQuestion> question;  // fix
  store::RunId run = 0;                             // resume

  /// Triggers with the same key wait together (debounce): "patch:IMAGE", "rebuild:GLOBS,",
  /// "refresh", "scan", "fix:LABEL", "resume:RUN".
  std::string key() const;
  /// For logs: the image, or the key.
  std::string label() const;
};

/// The run in progress, as decide() needs it.
struct ActiveRun {
  store::RunId run = 0;
  std::string image;                  // its trigger's image
  std::optional<std::string> digest;  // and digest
  std::set<std::string> images;       // every image it builds
};

/// A notice (not exact) of the image and digest being cascaded, or of an image the run
/// builds (the registry reporting cascade's own pushes), joins that run: it is acted on
/// there. Anything else follows: it waits until the run ends.
enum class Decision { join, follow };
Decision decide(const std::optional<ActiveRun>& active, const Trigger& trigger);

/// How handle() may reach back: the daemon's fleet refresh before a plan, and the run's options.
struct HandleOptions {
  RunOptions run;
  bool deploy = true;
  /// Reads the sources again (the Dockerfiles as they are now); may be empty (the CLI's
  /// fleet was just read).
  std::function<void()> refresh_fleet;
  /// A notice may be asked again later: a tag not yet at the notified digest is reported
  /// as unavailable (the caller retries) up to `catch_up_tries` times.
  bool may_retry = false;
  int attempt = 0;  // transient failures of this trigger so far
  int catch_up_tries = 3;
  /// Worth a log line, not a failure: a tag that moved on since its notice, a digest the
  /// registry could not confirm, a digest record the store refused after a run. May be empty.
  std::function<void(const std::string&)> note;
  /// Called before an unfinished run of the same trigger is finished instead of starting another.
  std::function<void(store::RunId)> finishing;
};

struct Handled {
  enum class Result {
    ran,         // a run started (or an unfinished one was finished): `run`
    up_to_date,  // nothing to do: the image is already there, or nothing is built on it
    done,        // a refresh or a scan finished
  };
  Result result = Result::done;
  std::optional<RunResult> run;
  bool resumed = false;               // `run` finished an unfinished run
  std::optional<store::RunId> by;     // up_to_date: the run that made it so, when known
  std::string message;                // "up to date", "3 bases changed", "scanned 12 images ..."
  std::vector<Trigger> follow_ups{};  // refresh: a patch notice per moved base
  std::vector<std::string> unfixed{};  // fix: external bases with no fixed version upstream yet
  std::vector<std::pair<std::string, std::string>> problems{};  // scan: (subject, why) not scanned
  std::string digest;                 // patch notice: the digest cascaded (confirmed with the registry)
};

/// Handles one trigger on the current fleet: checks, plans and runs it (see Trigger).
/// Fails with a kind: bad_input (not an image, not in the fleet), unavailable (worth
/// retrying: the registry is away, or the tag has not caught up with the notice yet), ...
Expected<Handled, Failure> handle(Wiring& wiring, const Trigger& trigger, const HandleOptions& options);

}  // namespace cascade::app
