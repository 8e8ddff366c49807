// Engine connections, shared by docker deploy targets and build workers: an `endpoint:`
// (an absolute unix socket or tcp://host:port) and its `tls:` files, resolved against the
// pipeline's folder and, where asked, checked to be readable files.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "paths.hpp"
#include "sections.hpp"

namespace cascade::pipeline::detail {

namespace fs = std::filesystem;

namespace {

const Section kTlsSection{"tls", {{"ca"}, {"cert"}, {"key"}}};


}  // namespace

Expected<std::string, Error> read_endpoint(const Context& context, const YAML::Node& node) {
  CASCADE_TRY_ASSIGN(auto endpoint, read_nonempty(context.report, node, "endpoint"));
  std::string_view text = endpoint;
  if (text.rfind("unix://", 0) == 0) {
    std::string_view path = text.substr(7);
    if (path.size() < 2 || path.front() != '/')
      return unexpected(context.report.at(node, "'endpoint' " + quote(text) +
                                                    " must name an absolute socket path: write "
                                                    "unix:///run/docker.sock (three slashes)"));
    return endpoint;
  }
  if (text.rfind("tcp://", 0) == 0) {
    if (!valid_host_port(text.substr(6)))
      return unexpected(context.report.at(node, "'endpoint' " + quote(text) +
                                                    " must be tcp://host:port, e.g. tcp://10.0.0.5:2376, without a "
                                                    "path"));
    return endpoint;
  }
  return unexpected(context.report.at(node, "'endpoint' " + quote(text) +
                                                " must be unix:///absolute/path.sock or tcp://host:port"));
}

Status check_readable_file(const Context& context, const YAML::Node& node, std::string_view what,
                           const std::string& path) {
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found)
    return unexpected(context.report.at(node, std::string(what) + " " + quote(path) +
                                                  " does not exist; create it or correct the path (a relative "
                                                  "path starts at the pipeline file's folder)"));
  if (error)
    return unexpected(context.report.at(node, std::string(what) + " " + quote(path) + " cannot be reached: " +
                                                  error.message()));
  if (!fs::is_regular_file(status))
    return unexpected(context.report.at(node, std::string(what) + " " + quote(path) +
                                                  " is not a regular file; name the file itself"));
  if (::access(path.c_str(), R_OK) != 0)
    return unexpected(context.report.at(node, std::string(what) + " " + quote(path) + " cannot be read (" +
                                                  std::strerror(errno) +
                                                  "); make it readable by the user cascade runs as"));
  return {};
}

Expected<TlsFiles, Error> read_tls(const Context& context, const YAML::Node& node, std::string_view endpoint,
                                   TlsCheck check) {
  CASCADE_TRY_ASSIGN(auto fields, check_keys(context.report, node, kTlsSection));
  TlsFiles files;
  std::vector<std::pair<std::string_view, YAML::Node>> given;  // key, value node
  for (auto [key, out] : {std::pair{"ca", &files.ca}, {"cert", &files.cert}, {"key", &files.key}}) {
    auto value_node = fields.find(key);
    if (!value_node) continue;
    CASCADE_TRY_ASSIGN(auto text, read_nonempty(context.report, *value_node, key));
    auto path = resolve_local(text, context.directory, context.env);
    if (!path) return unexpected(context.report.at(*value_node, quote(key) + ": " + path.error()));
    *out = *path;
    given.emplace_back(key, *value_node);
  }
  if (files.cert.empty() != files.key.empty())
    return unexpected(context.report.at(node, "'tls' needs both 'cert' and 'key' for a client certificate, or neither"));
  if (endpoint.rfind("tcp://", 0) != 0)
    return unexpected(context.report.at(node, "'tls' applies only to a tcp:// endpoint"));
  if (check == TlsCheck::files_readable) {
    for (const auto& [key, value_node] : given) {
      const std::string& path = key == "ca" ? files.ca : key == "cert" ? files.cert : files.key;
      CASCADE_TRY(check_readable_file(context, value_node, "'tls' " + quote(key) + " file", path));
    }
  }
  return files;
}

}  // namespace cascade::pipeline::detail
