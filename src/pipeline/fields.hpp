// Internal to the pipeline module: the table-driven key checker and typed readers for
// YAML values. Every section of the file is one Section table plus one read function;
// the checker rejects unknown and duplicate keys and reports missing required ones, so
// a section's function only reads values.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/pipeline.hpp"

namespace cascade::pipeline::detail {

using Status = Expected<void, Error>;

/// `text` in single quotes, as every message names a key or a value. (Not `quoted`: with
/// <iomanip> in reach, a std::string argument would find std::quoted by lookup.)
std::string quote(std::string_view text);

/// Builds errors that point into one file.
class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  /// An error at `node`'s position.
  Error at(const YAML::Node& node, std::string message) const;
  /// An error at a yaml-cpp mark (0-based; a null mark gives line 0).
  Error at(const YAML::Mark& mark, std::string message) const;

 private:
  std::string file_;
};

/// 1-based position of a node.
Mark mark_of(const YAML::Node& node);

/// "a mapping", "a list", "a string", "empty": what a node is, for messages.
std::string_view kind_of(const YAML::Node& node);

/// The key node of `key` in a checked mapping (for errors about the key itself); the mapping
/// when the key is absent.
YAML::Node key_node(const YAML::Node& mapping, std::string_view key);

struct Key {
  std::string_view name;
  bool required = false;
};

/// The keys one kind of mapping accepts. `what` names the mapping in messages
/// ("image recipe", "source", "the top level").
struct Section {
  std::string_view what;
  std::vector<Key> keys;
};

/// The entries of a checked mapping, in file order.
class Fields {
 public:
  struct Entry {
    std::string key;
    YAML::Node value;
  };
  explicit Fields(YAML::Node mapping) : mapping_(std::move(mapping)) {}
  /// The value of `key`, or nothing when the key is absent.
  std::optional<YAML::Node> find(std::string_view key) const;
  /// The value of a key the Section marks required (present after check_keys).
  YAML::Node get(std::string_view key) const;
  const YAML::Node& mapping() const { return mapping_; }
  void add(Entry entry) { entries_.push_back(std::move(entry)); }

 private:
  YAML::Node mapping_;
  std::vector<Entry> entries_;
};

/// Checks that `node` is a mapping whose keys are plain strings, each used once, each
/// allowed by `section`, with every required key present; fails naming the first problem.
Expected<Fields, Error> check_keys(const Reporter& report, const YAML::Node& node, const Section& section);

/// The closest of `candidates` to `word` by edit distance (transpositions count as one
/// edit, case is ignored), or nothing when none is close enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word, const std::vector<Key>& candidates);

/// A scalar value; fails when `node` is empty, a list or a mapping.
Expected<std::string, Error> read_string(const Reporter& report, const YAML::Node& node, std::string_view key);

/// A scalar value that is not empty.
Expected<std::string, Error> read_nonempty(const Reporter& report, const YAML::Node& node, std::string_view key);

/// true / false (also True, TRUE, False, FALSE, as YAML 1.2 spells them).
Expected<bool, Error> read_bool(const Reporter& report, const YAML::Node& node, std::string_view key);

/// A whole number of at least `minimum` (at most six digits, unquoted).
Expected<std::size_t, Error> read_count(const Reporter& report, const YAML::Node& node, std::string_view key,
                                        std::size_t minimum);

/// True when `name` matches [A-Za-z_][A-Za-z0-9_]*.
bool valid_env_name(std::string_view name);

/// The name of an environment variable (checked with valid_env_name).
Expected<std::string, Error> read_env_name(const Reporter& report, const YAML::Node& node, std::string_view key);

/// Checks that `node` is a list.
Status expect_list(const Reporter& report, const YAML::Node& node, std::string_view key);

/// A mapping of names to scalar values, kept as written ("3" stays "3", "yes" stays "yes").
Expected<std::map<std::string, std::string>, Error> read_string_map(const Reporter& report, const YAML::Node& node,
                                                                  std::string_view key);

}  // namespace cascade::pipeline::detail
