// Real peers on 127.0.0.1 for the http and registry tests: a scripted Beast server (coroutines,
// its own thread), a real `docker-registry serve` in the background (Boost.Process v2),
// self-signed certificates made by openssl, and test images pushed with skopeo.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/process/v2.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cascade/reference.hpp"
#include "cascade/registry.hpp"
#include "support.hpp"

namespace cascade::test {

namespace asio = boost::asio;
namespace beast = boost::beast;

/// A port nobody listens on right now (bound once, then released).
inline int free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

/// "sha256:<hex>" of `bytes`.
inline std::string sha256(const std::string& bytes) {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), hash, &size, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string text = "sha256:";
  for (unsigned int i = 0; i < size; ++i) text += {hex[hash[i] >> 4], hex[hash[i] & 15]};
  return text;
}

/// A request as the scripted server saw it.
struct Received {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
};

/// What the scripted server answers.
struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool hang = false;   // accept the request and never answer
  bool close = false;  // close the connection after answering (saying so)
  bool drop = false;   // answer as if keeping the connection alive, then close it anyway
};

/// An HTTP/1.1 server on 127.0.0.1 answering every request with `handler` (called on the
/// server's thread); keeps connections alive unless told otherwise; counts what it saw.
class ScriptedServer {
 public:
  using Handler = std::function<Reply(const Received&)>;

  explicit ScriptedServer(Handler handler)
      : handler_(std::move(handler)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedServer() {
    io_.stop();
    thread_.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& path = "/") const { return "http://" + host() + path; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  Received record(const beast::http::request<beast::http::string_body>& request) {
    Received seen{std::string(request.method_string()), std::string(request.target()), {}, request.body()};
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      seen.headers[name] = std::string(field.value());
    }
    ++requests_;
    std::lock_guard lock(mutex_);
    received_.push_back(seen);
    return seen;
  }

  asio::awaitable<void> session(asio::ip::tcp::socket socket) {
    namespace http = beast::http;
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_ec, n] = co_await http::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
      if (read_ec) co_return;
      Reply reply = handler_(record(request));
      if (reply.hang) {
        asio::steady_timer forever(io_, std::chrono::hours(1));
        co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      for (const auto& [name, value] : reply.headers) response.insert(name, value);
      response.keep_alive(request.keep_alive() && !reply.close);
      response.content_length(reply.body.size());
      if (request.method() != http::verb::head) response.body() = reply.body;
      http::response_serializer<http::string_body> serializer(response);
      if (request.method() == http::verb::head) serializer.split(true);
      auto [write_ec, m] = request.method() == http::verb::head
                               ? co_await http::async_write_header(socket, serializer, asio::as_tuple(asio::use_awaitable))
                               : co_await http::async_write(socket, serializer, asio::as_tuple(asio::use_awaitable));
      if (write_ec || !response.keep_alive()) co_return;
      if (reply.drop) {
        boost::system::error_code ignored;
        socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        co_return;
      }
    }
  }

  Handler handler_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::vector<Received> received_;
  std::thread thread_;
};

/// A self-signed certificate (<name>.pem, <name>-key.pem under `dir`) for the names in `san`.
struct Certificate {
  std::string cert;
  std::string key;
};

inline Certificate make_certificate(const fs::path& dir, const std::string& name = "server",
                                    const std::string& san = "IP:127.0.0.1,DNS:localhost") {
  Certificate made{(dir / (name + ".pem")).string(), (dir / (name + "-key.pem")).string()};
  auto result = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj",
                     "/CN=cascade-test", "-addext", "subjectAltName=" + san, "-keyout", made.key,
                     "-out", made.cert});
  if (result.exit_code != 0) throw std::runtime_error("openssl req failed: " + result.err);
  return made;
}

/// How a test registry authenticates.
struct RegistryAuth {
  std::string htpasswd_file;  // Basic auth with this bcrypt htpasswd file
  std::string token_realm;    // Bearer token auth: realm URL, service, issuer, root certificate
  std::string token_service;
  std::string token_issuer;
  std::string token_rootcert;
};

/// Where the registry POSTs its push notifications (distribution's `notifications.endpoints`).
struct RegistryNotify {
  std::string url;            // "http://127.0.0.1:PORT/hooks/registry"; empty: no notifications
  std::string authorization;  // sent as the Authorization header of every notification
};

/// A real `docker-registry serve` on 127.0.0.1:<free port> with storage in a temp folder,
/// optionally serving TLS, requiring auth and sending push notifications; killed on destruction.
class DockerRegistry {
 public:
  explicit DockerRegistry(const RegistryAuth& auth = {}, std::optional<Certificate> tls = std::nullopt,
                          const RegistryNotify& notify = {})
      : port_(free_port()), notify_(notify) {
    write_file(dir_ / "config.yml", config(auth, tls));
    std::FILE* log = std::fopen((dir_ / "registry.log").c_str(), "w");
    std::string exe = process::find_executable("docker-registry");
    if (exe.empty()) throw std::runtime_error("docker-registry is not installed (scripts/setup.sh)");
    namespace bp = boost::process::v2;
    child_.emplace(io_, exe, std::vector<std::string>{"serve", (dir_ / "config.yml").string()},
                   bp::process_stdio{nullptr, log, log});
    std::fclose(log);
    wait_until_listening();
  }
  ~DockerRegistry() {
    boost::system::error_code ec;
    child_->terminate(ec);
    child_->wait(ec);
  }
  DockerRegistry(const DockerRegistry&) = delete;
  DockerRegistry& operator=(const DockerRegistry&) = delete;

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_file(dir_ / "registry.log"); }
  /// How many times a manifest of `repository` was pushed (PUT /v2/<repository>/manifests/...).
  std::size_t manifest_puts(const std::string& repository) const {
    std::string text = log(), needle = "\"PUT /v2/" + repository + "/manifests/";
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
  }

 private:
  std::string config(const RegistryAuth& auth, const std::optional<Certificate>& tls) const {
    // The access log is on: manifest_puts() counts pushes from it.
    std::string text = "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n"
                       "storage:\n  filesystem:\n    rootdirectory: " + (dir_ / "data").string() +
                       "\n  delete:\n    enabled: true\nhttp:\n  addr: " + host() + "\n  secret: cascade-test\n";
    if (tls) text += "  tls:\n    certificate: " + tls->cert + "\n    key: " + tls->key + "\n";
    if (!auth.htpasswd_file.empty())
      text += "auth:\n  htpasswd:\n    realm: cascade-test\n    path: " + auth.htpasswd_file + "\n";
    if (!auth.token_realm.empty())
      text += "auth:\n  token:\n    realm: " + auth.token_realm + "\n    service: " + auth.token_service +
              "\n    issuer: " + auth.token_issuer + "\n    rootcertbundle: " + auth.token_rootcert + "\n";
    if (!notify_.url.empty())
      text += "notifications:\n  endpoints:\n    - name: cascade\n      url: " + notify_.url +
              "\n      headers:\n        Authorization: [\"" + notify_.authorization +
              "\"]\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n"
              "      ignore:\n        actions: [pull]\n";
    return text;
  }

  void wait_until_listening() {
    for (int attempt = 0; attempt < 200; ++attempt) {
      asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)}, ec);
      if (!ec) return;
      if (!child_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    throw std::runtime_error("docker-registry did not start: " + log());
  }

  TempDir dir_;
  int port_;
  RegistryNotify notify_;
  asio::io_context io_;
  std::optional<boost::process::v2::process> child_;
};

/// A single-platform image for skopeo to push: one layer holding `file`, a config with `labels`.
struct TestImage {
  std::string architecture = "amd64";
  std::string os = "linux";
  std::map<std::string, std::string> labels;
  std::string file = "hello\n";
};

/// Writes `image` as an OCI layout in `layout` and pushes it with skopeo to
/// docker://<host>/<name> (TLS unverified; `creds` "user:password" when the registry wants
/// them); returns the digest skopeo reports.
inline std::string push_image(const fs::path& layout, const std::string& host, const std::string& name,
                              const TestImage& image = {}, const std::string& creds = "") {
  fs::create_directories(layout / "blobs/sha256");
  write_file(layout / "rootfs/file.txt", image.file);
  auto tar = run({"tar", "-C", (layout / "rootfs").string(), "-cf", (layout / "layer.tar").string(), "file.txt"});
  if (tar.exit_code != 0) throw std::runtime_error("tar failed: " + tar.err);
  auto store = [&](const std::string& bytes) {
    std::string digest = sha256(bytes);
    write_file(layout / "blobs/sha256" / digest.substr(7), bytes);
    return digest;
  };
  std::string layer = read_file(layout / "layer.tar");
  std::string layer_digest = store(layer);
  std::string labels;
  for (const auto& [key, value] : image.labels) labels += (labels.empty() ? "\"" : ",\"") + key + "\":\"" + value + "\"";
  std::string config = "{\"architecture\":\"" + image.architecture + "\",\"os\":\"" + image.os +
                       "\",\"config\":{\"Labels\":{" + labels + "}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" +
                       layer_digest + "\"]}}";
  std::string config_digest = store(config);
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                         "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
                         config_digest + "\",\"size\":" + std::to_string(config.size()) +
                         "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" +
                         layer_digest + "\",\"size\":" + std::to_string(layer.size()) + "}]}";
  std::string manifest_digest = store(manifest);
  write_file(layout / "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  write_file(layout / "index.json", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                                    "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" +
                                        manifest_digest + "\",\"size\":" + std::to_string(manifest.size()) + "}]}");
  std::string digest_file = (layout / "pushed.digest").string();
  std::vector<std::string> argv = {"skopeo", "copy", "-q", "--preserve-digests", "--digestfile", digest_file,
                                   "--dest-tls-verify=false"};
  if (!creds.empty()) argv.insert(argv.end(), {"--dest-creds", creds});
  argv.insert(argv.end(), {"oci:" + layout.string(), "docker://" + host + "/" + name});
  auto copy = run(argv);
  if (copy.exit_code != 0) throw std::runtime_error("skopeo copy failed: " + copy.err);
  return read_file(digest_file);
}

/// `text` as a reference; throws (a set-up mistake of the test) when it is none.
inline reference::Reference image_ref(const std::string& text) {
  auto parsed = reference::parse(text);
  if (!parsed) throw std::runtime_error("not an image reference: " + text);
  return *parsed;
}

/// A registry client's options for one plain-http registry: no credentials read (a config
/// file that does not exist, no DOCKER_AUTH_CONFIG), retries at once.
inline registry::Options plain_http_options(const std::string& host, const TempDir& dir) {
  registry::Options options;
  options.registries = {{host, true, ""}};
  options.docker_config = (dir / "no-config.json").string();
  options.read_auth_config_env = false;
  options.retry.initial_delay = std::chrono::milliseconds(1);
  return options;
}

}  // namespace cascade::test
