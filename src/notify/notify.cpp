// Events as destinations receive them (payload, slack_payload), which destination wants which
// event (wants), storing them in the outbox (enqueue) and the retry schedule (backoff).
// Sending is in deliver.cpp.
#include <algorithm>
#include <array>
#include <string_view>

#include "cascade/notify.hpp"
#include "cascade/reference.hpp"
#include "cascade/util/time.hpp"

namespace cascade::notify {

namespace {

using json = nlohmann::json;

// The repository an event's image names ("127.0.0.1:5000/app/api:1" -> "127.0.0.1:5000/app/api");
// text that is no reference is matched as it is.
std::string repository_of(const std::string& image) {
  auto parsed = reference::parse(image);
  return parsed ? parsed->repository() : image;
}

// "3 pushed, 1 failed" from details.summary's non-zero counts: the usual ones in this order,
// then any other numeric field in the object's order.
std::string summary_counts(const json& details) {
  auto summary = details.find("summary");
  if (summary == details.end() || !summary->is_object()) return "";
  static constexpr std::array<std::string_view, 6> kFirst = {"pushed", "skipped", "failed",
                                                             "blocked", "rolled_back", "behind"};
  std::string line;
  auto add = [&](const std::string& name, const json& value) {
    if (!value.is_number_integer() || value.get<long long>() == 0) return;
    line += (line.empty() ? "" : ", ") + std::to_string(value.get<long long>()) + " " + name;
  };
  for (std::string_view name : kFirst)
    if (auto found = summary->find(std::string(name)); found != summary->end()) add(std::string(name), *found);
  for (const auto& [name, value] : summary->items())
    if (std::find(kFirst.begin(), kFirst.end(), name) == kFirst.end()) add(name, value);
  std::replace(line.begin(), line.end(), '_', ' ');
  return line;
}

// Slack's mrkdwn treats &, < and > as control characters; Mattermost and Rocket.Chat decode
// the entities too.
std::string slack_escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '&') escaped += "&amp;";
    else if (c == '<') escaped += "&lt;";
    else if (c == '>') escaped += "&gt;";
    else escaped += c;
  }
  return escaped;
}

}  // namespace

json payload(const Event& event, store::Time at) {
  // details first: the fields every event has win over a detail of the same name.
  json body = event.details.is_object() ? event.details : json::object();
  body["id"] = event.id;
  body["event"] = event.kind;
  body["run"] = event.run;
  body["text"] = event.text;
  body["images"] = event.images;
  body["at"] = util::iso_utc_ms(at);
  return body;
}

json slack_payload(const Event& event) {
  std::string text = event.text;
  if (text.empty()) {
    text = "cascade run " + std::to_string(event.run) + ": " + event.kind;
    if (event.kind == "run-finished") {
      std::string counts = summary_counts(event.details);
      text = "cascade run " + std::to_string(event.run) + " finished" + (counts.empty() ? "" : ": " + counts);
    }
  }
  return json{{"text", slack_escape(text)}};
}

bool wants(const pipeline::Notify& destination, const Event& event) {
  if (!destination.events.empty() &&
      std::find(destination.events.begin(), destination.events.end(), event.kind) == destination.events.end())
    return false;
  // An event about no image in particular (a run that built nothing yet, a run's summary with
  // no images listed) concerns the whole run: every destination's image filter lets it through.
  if (destination.images.empty() || event.images.empty()) return true;
  return std::any_of(event.images.begin(), event.images.end(), [&](const std::string& image) {
    std::string repository = repository_of(image);
    return std::any_of(destination.images.begin(), destination.images.end(),
                       [&](const std::string& glob) { return pipeline::glob_match(glob, repository); });
  });
}

Expected<void, store::Error> enqueue(store::Store& store, const std::vector<pipeline::Notify>& destinations,
                                     const Event& event) {
  const store::Time now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  // Invalid UTF-8 in a text or detail (a command's output) becomes U+FFFD rather than a throw.
  const std::string body = payload(event, now).dump(-1, ' ', false, json::error_handler_t::replace);
  std::vector<store::Notification> notifications;
  for (const pipeline::Notify& destination : destinations) {
    if (!wants(destination, event)) continue;
    store::Notification notification;
    notification.destination = destination.name;
    notification.event_id = event.id;
    notification.event = event.kind;
    notification.body = body;
    notification.next_at = now;
    notification.created_at = now;
    notifications.push_back(std::move(notification));
  }
  if (notifications.empty()) return {};
  return store.enqueue_notifications(notifications);
}

std::chrono::milliseconds backoff(int attempts) {
  constexpr std::chrono::milliseconds kFirst{1'000};
  constexpr std::chrono::milliseconds kLongest{5 * 60'000};
  if (attempts <= 1) return kFirst;
  if (attempts > 9) return kLongest;  // 2^9 s is past the cap already
  return std::min<std::chrono::milliseconds>(kFirst * (1 << (attempts - 1)), kLongest);
}

}  // namespace cascade::notify
