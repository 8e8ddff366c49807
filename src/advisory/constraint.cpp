// Package constraints a person types: `bash`, `bash<5.2.15-2+deb12u1`, `openssl >= 3.0.2`.
// A bad one is refused with a message saying what to write instead; versions are compared
// in the distribution's own ordering (cascade/version.hpp).
#include <string>
#include <string_view>

#include "cascade/advisory.hpp"

namespace cascade::advisory {
namespace {

constexpr std::string_view kOperators = "use NAME<VERSION, NAME<=VERSION, NAME=VERSION, NAME>=VERSION or NAME>VERSION";
constexpr std::string_view kOperatorChars = "<>=!~^";

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_name_char(char c) { return is_alnum(c) || c == '+' || c == '.' || c == '_' || c == '-'; }
bool is_operator_char(char c) { return kOperatorChars.find(c) != std::string_view::npos; }

// Input echoed in a message: control bytes as '?', at most 60 bytes, in quotes.
std::string shown(std::string_view text) {
  std::string out = "'";
  for (char c : text.substr(0, 60)) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out + (text.size() > 60 ? "...'" : "'");
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The operator, or why `op` is not one (with what to write instead).
Expected<Constraint::Op, std::string> read_operator(std::string_view op) {
  if (op == "<") return Constraint::Op::lt;
  if (op == "<=") return Constraint::Op::le;
  if (op == "=") return Constraint::Op::eq;
  if (op == ">=") return Constraint::Op::ge;
  if (op == ">") return Constraint::Op::gt;
  const std::string quoted_op = shown(op);
  if (op == "==") return unexpected("'==' is not an operator: write NAME=VERSION for one exact version");
  if (op == "!=" || op == "<>")
    return unexpected(quoted_op + " (not equal) is not supported; " + std::string(kOperators));
  if (op == "=<") return unexpected(std::string("'=<' is not an operator: write '<=' (NAME<=VERSION)"));
  if (op == "=>") return unexpected(std::string("'=>' is not an operator: write '>=' (NAME>=VERSION)"));
  if (op == "<<") return unexpected(std::string("'<<' is dpkg's strictly-older: write '<' (NAME<VERSION)"));
  if (op == ">>") return unexpected(std::string("'>>' is dpkg's strictly-newer: write '>' (NAME>VERSION)"));
  return unexpected("unknown operator " + quoted_op + "; " + std::string(kOperators));
}

// Why the character ending a package name is wrong there.
std::string after_name_error(std::string_view name, std::string_view rest, bool spaced) {
  if (spaced) {
    return "missing operator between " + shown(name) + " and " + shown(rest) + "; " + std::string(kOperators);
  }
  if (rest.front() == ':') {
    return "drop the architecture " + shown(rest.substr(0, rest.find_first_of(" \t<>=!"))) + " from " + shown(name) +
           ": a constraint names the package alone";
  }
  return "character " + shown(rest.substr(0, 1)) + " after " + shown(name) +
         " is not allowed in a package name (letters, digits and + . _ - only); " + std::string(kOperators);
}

}  // namespace

Expected<Constraint, std::string> parse_constraint(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return unexpected(
        std::string("empty constraint; write a package name (bash) or NAME<VERSION (bash<5.2.15-2+deb12u1)"));
  if (!is_alnum(text.front())) {
    if (is_operator_char(text.front())) {
      return unexpected("missing package name before " + shown(text.substr(0, 1)) +
                        "; write e.g. bash<5.2.15-2+deb12u1");
    }
    return unexpected(shown(text.substr(0, 1)) + " cannot start a package name: names start with a letter or a digit");
  }
  std::size_t end = 1;
  while (end < text.size() && is_name_char(text[end])) ++end;
  Constraint constraint;
  constraint.name = std::string(text.substr(0, end));
  const std::string_view after_name = text.substr(end);
  std::string_view rest = trim(after_name);
  if (rest.empty()) return constraint;
  if (!is_operator_char(rest.front())) {
    return unexpected(after_name_error(constraint.name, rest, rest.size() != after_name.size()));
  }
  std::size_t op_end = 0;
  while (op_end < rest.size() && is_operator_char(rest[op_end])) ++op_end;
  const std::string_view op_text = rest.substr(0, op_end);
  auto op = read_operator(op_text);
  if (!op) return unexpected(std::move(op).error());
  constraint.op = *op;
  const std::string_view version = trim(rest.substr(op_end));
  if (version.empty()) {
    return unexpected("missing version after " + shown(op_text) + "; write e.g. " + constraint.name +
                      std::string(op_text) + "1.2.3-1");
  }
  if (is_operator_char(version.front())) {
    // "bash= >1" would print as "bash=>1", which is no constraint: one operator only.
    return unexpected("version " + shown(version) + " after " + shown(op_text) +
                      " starts with an operator character; write one operator, e.g. " + constraint.name + ">=1.2.3-1");
  }
  for (char c : version) {
    if (is_space(c))
      return unexpected("unexpected text after the version in " + shown(text) + ": a version has no spaces");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return unexpected("control character in the version " + shown(version) +
                        "; write the version as the package manager shows it");
    }
  }
  constraint.version = std::string(version);
  return constraint;
}

std::string to_string(const Constraint& constraint) {
  switch (constraint.op) {
    case Constraint::Op::any:
      return constraint.name;
    case Constraint::Op::lt:
      return constraint.name + "<" + constraint.version;
    case Constraint::Op::le:
      return constraint.name + "<=" + constraint.version;
    case Constraint::Op::eq:
      return constraint.name + "=" + constraint.version;
    case Constraint::Op::ge:
      return constraint.name + ">=" + constraint.version;
    case Constraint::Op::gt:
      return constraint.name + ">" + constraint.version;
  }
  return constraint.name;
}

bool satisfies(const Constraint& constraint, version::Scheme scheme, std::string_view installed) {
  if (constraint.op == Constraint::Op::any) return true;
  const int order = version::compare(scheme, installed, constraint.version);
  switch (constraint.op) {
    case Constraint::Op::any:
      return true;
    case Constraint::Op::lt:
      return order < 0;
    case Constraint::Op::le:
      return order <= 0;
    case Constraint::Op::eq:
      return order == 0;
    case Constraint::Op::ge:
      return order >= 0;
    case Constraint::Op::gt:
      return order > 0;
  }
  return false;
}

}  // namespace cascade::advisory
