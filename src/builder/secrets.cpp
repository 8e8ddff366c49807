// Build secrets (RUN --mount=type=secret) for every backend: the "--secret" argument that
// names a value without holding it, reading and checking the values before a build starts,
// and masking them in what a build wrote to its log.
//
// All three builders here take the same "id=ID,env=NAME" / "id=ID,src=FILE" form (buildah
// 1.28, docker 20.10 and buildctl verified for env= and src=). An env secret travels in the
// builder's environment under a name of cascade's own (CASCADE_BUILD_SECRET_<n>), so no
// secret's variable name can collide with one the builder reads; neither form puts the value
// in argv, where `ps` and the logged command would show it. An unset variable reaches buildah
// and docker as an empty secret without complaint, so it is checked here first.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "internal.hpp"

namespace cascade::builder::detail {

namespace {

constexpr std::size_t kShortestMasked = 4;

Error secret_error(const BuildRequest& request, const Secret& secret, const std::string& problem) {
  return Error{Error::Kind::setup, request.image + ": build secret \"" + secret.id + "\": " + problem};
}

bool valid_id(const std::string& id) {
  if (id.empty()) return false;
  return std::none_of(id.begin(), id.end(), [](char c) {
    return c == ',' || c == '=' || c == '"' || static_cast<unsigned char>(c) <= ' ';
  });
}

bool valid_variable(const std::string& name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string env_name(std::size_t index) { return "CASCADE_BUILD_SECRET_" + std::to_string(index); }

std::string_view trimmed(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The whole value and each of its lines, trimmed, long enough to mask; longest first, so a
// line inside the whole value never breaks the whole value's replacement.
std::vector<std::string> pieces_to_mask(const std::vector<std::string>& values) {
  std::vector<std::string> pieces;
  auto add = [&](std::string_view piece) {
    piece = trimmed(piece);
    if (piece.size() >= kShortestMasked) pieces.emplace_back(piece);
  };
  for (const auto& value : values) {
    add(value);
    std::string_view rest = value;
    while (!rest.empty()) {
      auto end = rest.find('\n');
      add(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  pieces.erase(std::unique(pieces.begin(), pieces.end()), pieces.end());
  return pieces;
}

}  // namespace

std::string secret_argument(const Secret& secret, std::size_t index) {
  if (!secret.env.empty()) return "id=" + secret.id + ",env=" + env_name(index);
  return "id=" + secret.id + ",src=" + secret.file;
}

Expected<SecretInputs, Error> read_secrets(const BuildRequest& request) {
  SecretInputs inputs;
  for (std::size_t index = 0; index < request.secrets.size(); ++index) {
    const Secret& secret = request.secrets[index];
    if (!valid_id(secret.id))
      return unexpected(secret_error(request, secret, "the id must be non-empty, without ',', '=', '\"' or spaces"));
    if (secret.env.empty() == secret.file.empty())
      return unexpected(secret_error(request, secret, "give exactly one of env and file"));
    std::string value;
    if (!secret.env.empty()) {
      if (!valid_variable(secret.env))
        return unexpected(secret_error(request, secret, "\"" + secret.env + "\" is not an environment variable name"));
      const char* found = std::getenv(secret.env.c_str());
      if (!found) return unexpected(secret_error(request, secret, "the environment variable " + secret.env + " is not set"));
      value = found;
      inputs.env[env_name(index)] = value;
    } else {
      if (secret.file.front() != '/' || secret.file.find(',') != std::string::npos)
        return unexpected(secret_error(request, secret, "the file must be an absolute path without ','"));
      std::error_code ec;
      std::ifstream in(secret.file, std::ios::binary);
      if (!std::filesystem::is_regular_file(secret.file, ec) || !in)
        return unexpected(secret_error(request, secret, "cannot read the file " + secret.file));
      value.assign(std::istreambuf_iterator<char>(in), {});
      if (in.bad()) return unexpected(secret_error(request, secret, "cannot read the file " + secret.file));
    }
    inputs.masked.push_back(std::move(value));
  }
  return inputs;
}

std::string mask_secrets(std::string text, const std::vector<std::string>& values) {
  for (const auto& piece : pieces_to_mask(values)) {
    for (auto at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 3))
      text.replace(at, piece.size(), "***");
  }
  return text;
}

}  // namespace cascade::builder::detail
