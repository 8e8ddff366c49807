// The pipeline file's YAML, field by field: known keys per section (an unknown key is an
// error naming the allowed ones), typed values with the file, line and what to change.
#include "fields.hpp"

#include <algorithm>
#include <cctype>

#include "cascade/util/edit_distance.hpp"

namespace cascade::pipeline::detail {

std::string quote(std::string_view text) { return "'" + std::string(text) + "'"; }

YAML::Node key_node(const YAML::Node& mapping, std::string_view key) {
  for (const auto& entry : mapping)
    if (entry.first.Scalar() == key) return entry.first;
  return mapping;
}

namespace {

std::string allowed_list(const std::vector<Key>& keys) {
  std::string out;
  for (const Key& key : keys) {
    if (!out.empty()) out += ", ";
    out += key.name;
  }
  return out;
}


/// "has no value; ..." for an empty node, "must be <wanted>, not <kind>" otherwise.
std::string wrong_type(std::string_view key, const YAML::Node& node, std::string_view wanted) {
  if (node.IsNull()) return quote(key) + " has no value; give it " + std::string(wanted) + " or remove the key";
  return quote(key) + " must be " + std::string(wanted) + ", not " + std::string(kind_of(node));
}

}  // namespace

Error Reporter::at(const YAML::Node& node, std::string message) const { return at(node.Mark(), std::move(message)); }

Error Reporter::at(const YAML::Mark& mark, std::string message) const {
  Error error{file_, 0, 0, std::move(message)};
  if (!mark.is_null()) {
    error.line = mark.line + 1;
    error.column = mark.column + 1;
  }
  return error;
}

Mark mark_of(const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a string";
    case YAML::NodeType::Null: return "empty";
    case YAML::NodeType::Undefined: break;
  }
  return "missing";
}

std::optional<YAML::Node> Fields::find(std::string_view key) const {
  for (const Entry& entry : entries_)
    if (entry.key == key) return entry.value;
  return std::nullopt;
}

YAML::Node Fields::get(std::string_view key) const {
  auto value = find(key);
  return value ? *value : YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string_view> closest(std::string_view word, const std::vector<Key>& candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (const Key& key : candidates) {
    std::size_t distance = util::edit_distance(word, key.name);
    std::size_t limit = std::max<std::size_t>(2, key.name.size() / 3);
    if (distance > limit || distance >= word.size()) continue;
    if (!best || distance < best_distance) {
      best = key.name;
      best_distance = distance;
    }
  }
  return best;
}

Expected<Fields, Error> check_keys(const Reporter& report, const YAML::Node& node, const Section& section) {
  if (!node.IsMap())
    return unexpected(report.at(node, std::string(section.what) + " must be a mapping with keys " +
                                          allowed_list(section.keys) + ", not " + std::string(kind_of(node))));
  Fields fields(node);
  std::map<std::string, Mark, std::less<>> seen;
  for (const auto& entry : node) {
    const YAML::Node key = entry.first;
    if (!key.IsScalar())
      return unexpected(report.at(key, "keys in " + std::string(section.what) + " must be plain names, not " +
                                           std::string(kind_of(key))));
    const std::string name = key.Scalar();
    if (auto first = seen.find(name); first != seen.end())
      return unexpected(report.at(key, "duplicate key " + quote(name) + " in " + std::string(section.what) +
                                           " (first at line " + std::to_string(first->second.line) +
                                           "); keep only one"));
    seen.emplace(name, mark_of(key));
    bool allowed = std::any_of(section.keys.begin(), section.keys.end(), [&](const Key& k) { return k.name == name; });
    if (!allowed) {
      std::string message = "unknown key " + quote(name) + " in " + std::string(section.what) + "; ";
      if (auto suggestion = closest(name, section.keys)) message += "did you mean " + quote(*suggestion) + "? ";
      return unexpected(report.at(key, message + "allowed: " + allowed_list(section.keys)));
    }
    if (entry.second.IsNull())  // yaml-cpp marks an empty value where the next token starts
      return unexpected(report.at(key, quote(name) + " has no value; give it one or remove the key"));
    fields.add({name, entry.second});
  }
  for (const Key& key : section.keys) {
    if (key.required && !seen.count(key.name))
      return unexpected(report.at(node, "missing required key " + quote(key.name) + " in " +
                                            std::string(section.what) + "; add it (allowed: " +
                                            allowed_list(section.keys) + ")"));
  }
  return fields;
}

Expected<std::string, Error> read_string(const Reporter& report, const YAML::Node& node, std::string_view key) {
  if (!node.IsScalar()) return unexpected(report.at(node, wrong_type(key, node, "a string")));
  return node.Scalar();
}

Expected<std::string, Error> read_nonempty(const Reporter& report, const YAML::Node& node, std::string_view key) {
  auto text = read_string(report, node, key);
  if (text && text->empty()) return unexpected(report.at(node, quote(key) + " must not be empty"));
  return text;
}

Expected<bool, Error> read_bool(const Reporter& report, const YAML::Node& node, std::string_view key) {
  if (node.IsScalar() && node.Tag() != "!") {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  std::string found = node.IsScalar() ? quote(node.Scalar()) : std::string(kind_of(node));
  return unexpected(report.at(node, quote(key) + " must be true or false (unquoted), not " + found));
}

Expected<std::size_t, Error> read_count(const Reporter& report, const YAML::Node& node, std::string_view key,
                                        std::size_t minimum) {
  std::string text = node.IsScalar() ? node.Scalar() : std::string();
  bool digits = !text.empty() && text.size() <= 6 && node.Tag() != "!" &&
                std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  std::size_t value = digits ? std::stoul(text) : 0;
  if (!digits || value < minimum) {
    std::string found = node.IsScalar() ? quote(text) : std::string(kind_of(node));
    return unexpected(report.at(node, quote(key) + " must be a whole number of at least " + std::to_string(minimum) +
                                          ", not " + found));
  }
  return value;
}

bool valid_env_name(std::string_view name) {
  auto letter = [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)) || ch == '_'; };
  if (name.empty() || !letter(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char ch) { return letter(ch) || std::isdigit(static_cast<unsigned char>(ch)); });
}

Expected<std::string, Error> read_env_name(const Reporter& report, const YAML::Node& node, std::string_view key) {
  CASCADE_TRY_ASSIGN(auto name, read_nonempty(report, node, key));
  if (!valid_env_name(name))
    return unexpected(report.at(node, quote(key) + " names an environment variable: " + quote(name) +
                                          " must match [A-Za-z_][A-Za-z0-9_]*"));
  return name;
}

Status expect_list(const Reporter& report, const YAML::Node& node, std::string_view key) {
  if (!node.IsSequence()) return unexpected(report.at(node, wrong_type(key, node, "a list")));
  return {};
}

Expected<std::map<std::string, std::string>, Error> read_string_map(const Reporter& report, const YAML::Node& node,
                                                                  std::string_view key) {
  if (!node.IsMap()) return unexpected(report.at(node, wrong_type(key, node, "a mapping of names to strings")));
  std::map<std::string, std::string> values;
  std::map<std::string, Mark> seen;
  for (const auto& entry : node) {
    const YAML::Node name_node = entry.first;
    const YAML::Node value = entry.second;
    if (!name_node.IsScalar() || name_node.Scalar().empty())
      return unexpected(report.at(name_node, "names in " + quote(key) + " must be non-empty strings"));
    const std::string name = name_node.Scalar();
    if (auto first = seen.find(name); first != seen.end())
      return unexpected(report.at(name_node, "duplicate key " + quote(name) + " in " + quote(key) +
                                                 " (first at line " + std::to_string(first->second.line) +
                                                 "); keep only one"));
    seen.emplace(name, mark_of(name_node));
    if (value.IsNull())
      return unexpected(report.at(name_node, quote(name) + " in " + quote(key) + " has no value; write " + name +
                                             ": \"\" for an empty string"));
    if (!value.IsScalar())
      return unexpected(report.at(value, quote(name) + " in " + quote(key) + " must be a string, not " +
                                             std::string(kind_of(value))));
    values.emplace(name, value.Scalar());
  }
  return values;
}

}  // namespace cascade::pipeline::detail
