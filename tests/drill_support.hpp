// The advisory drill's fleet (tests/advisory_drill_test.cpp): a real docker-registry with two
// external bases pushed by buildah (a "debian 12" base carrying this machine's own dpkg
// database, an "alpine 3.20"-style base whose apk database has no bash), a package mirror (a
// scripted HTTP server serving one apk database block for bash), a git repository of three
// Dockerfiles (apps/web:1 on the debian base, apps/tool:1 installing bash from the mirror in
// a RUN, apps/tool-cli:1 on apps/tool:1) and the pipeline naming them. Programs run with
// argument vectors, never a shell.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "package_images.hpp"
#include "podman_fixture.hpp"

namespace cascade::test {

/// The bash stanza of this machine's dpkg database, as read now.
struct DpkgBash {
  std::string status;   // the whole database
  std::string version;  // its Version line ("5.2.15-2+b8")
  std::size_t begin = 0, end = 0;  // the stanza's bytes in `status`
};

inline DpkgBash machine_dpkg_bash() {
  DpkgBash bash;
  bash.status = read_file("/var/lib/dpkg/status");
  std::size_t at = bash.status.rfind("Package: bash\n", 0) == 0 ? 0 : bash.status.find("\nPackage: bash\n");
  if (at == std::string::npos) throw std::runtime_error("/var/lib/dpkg/status has no bash stanza");
  bash.begin = at == 0 ? 0 : at + 1;
  bash.end = std::min(bash.status.find("\n\n", bash.begin), bash.status.size());
  std::string stanza = bash.status.substr(bash.begin, bash.end - bash.begin);
  std::size_t version = stanza.find("\nVersion: ");
  if (version == std::string::npos) throw std::runtime_error("the bash stanza has no Version line");
  bash.version = stanza.substr(version + 10, stanza.find('\n', version + 1) - version - 10);
  return bash;
}

/// This machine's dpkg database with bash's Version line set to `version` and its Source
/// line to plain "Source: bash" (dpkg omits the version when it equals the binary's).
inline std::string dpkg_status_with_bash(const std::string& version) {
  DpkgBash bash = machine_dpkg_bash();
  std::string stanza = bash.status.substr(bash.begin, bash.end - bash.begin);
  std::string rewritten;
  for (std::size_t at = 0; at < stanza.size();) {
    std::size_t eol = std::min(stanza.find('\n', at), stanza.size());
    std::string line = stanza.substr(at, eol - at);
    if (line.rfind("Version: ", 0) == 0) line = "Version: " + version;
    else if (line.rfind("Source: ", 0) == 0) line = "Source: bash";
    rewritten += (rewritten.empty() ? "" : "\n") + line;
    at = eol + 1;
  }
  return bash.status.substr(0, bash.begin) + rewritten + bash.status.substr(bash.end);
}

/// Applet links a busybox-based base has on PATH (for RUN steps and container commands).
inline void add_busybox_applets(const fs::path& root) {
  add_busybox(root);
  for (const char* applet : {"sleep", "wget", "cat", "echo", "true", "grep", "ls", "mkdir"})
    fs::create_symlink("busybox", root / "bin" / applet);
}

/// One container of `image` looping on sleep, stopping at once on SIGTERM.
inline nlohmann::json sleeping_container(const std::string& image) {
  return {{"Image", image},
          {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}},
          {"StopTimeout", 1},
          {"HostConfig", {{"NetworkMode", "none"}}}};
}

class DrillFleet {
 public:
  DrillFleet() : mirror_([this](const Received& request) { return serve(request); }) {
    push_debian_base("");
    push_rootfs(registry_, sandbox_, "base/alpine:3.20", [](const fs::path& root) {
      add_busybox_applets(root);
      write_file(root / "etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"
                                          "PRETTY_NAME=\"Alpine Linux v3.20\"\n");
      write_file(root / "lib/apk/db/installed", alpine_installed());
    });
    make_repo(dir_ / "fleet", dockerfiles());
    write_file(pipeline(), pipeline_text());
  }

  /// Pushes base/debian:12 anew: this machine's dpkg database as it is (`bash_version`
  /// empty) or with bash at `bash_version`; returns the pushed digest.
  std::string push_debian_base(const std::string& bash_version) {
    return push_rootfs(registry_, sandbox_, "base/debian:12", [&](const fs::path& root) {
      add_busybox_applets(root);
      write_file(root / "var/lib/dpkg/status",
                 bash_version.empty() ? read_file("/var/lib/dpkg/status") : dpkg_status_with_bash(bash_version));
      write_file(root / "usr/lib/os-release", read_file("/etc/os-release"));
      fs::create_directories(root / "etc");
      fs::create_symlink("../usr/lib/os-release", root / "etc/os-release");
    });
  }

  /// From now on the mirror serves bash at `version`.
  void serve_bash(const std::string& version) {
    std::lock_guard lock(mutex_);
    bash_version_ = version;
  }
  /// How many times the mirror served bash.apk.
  int bash_downloads() const {
    int count = 0;
    for (const auto& request : mirror_.received()) count += request.target == "/bash.apk";
    return count;
  }

  std::string pipeline() const { return (dir_ / "pipeline.yaml").string(); }
  std::string host() const { return registry_.host(); }
  /// "apps/web:1" -> "127.0.0.1:PORT/apps/web:1"
  std::string image(const std::string& name) const { return host() + "/" + name; }

  /// `cascade COMMAND -p PIPELINE args...`
  process::Result cascade(const std::string& command, std::vector<std::string> args) const {
    args.insert(args.begin(), {command, "-p", pipeline()});
    return test::cascade(args);
  }

  /// Adds the deploy section: one docker target, the podman service at `endpoint`.
  void deploy_to(const std::string& endpoint) const {
    write_file(pipeline(), read_file(pipeline()) + "deploy:\n  - name: podman\n    kind: docker\n    endpoint: " +
                               endpoint + "\n    rollout: {batch: 1, max_unavailable: 1, health_timeout: 20s, "
                                          "stable_for: 1s}\n");
  }

  /// Writes the drill's OSV advisory (Debian:12 and Alpine:v3.20 bash) and returns its path.
  std::string write_advisory() const {
    nlohmann::json advisory = {
        {"schema_version", "1.6.0"},
        {"id", "x_DRILL-2026-0001"},
        {"aliases", {"CVE-2026-99999"}},
        {"summary", "bash: drill advisory"},
        {"affected",
         {{{"package", {{"ecosystem", "Debian:12"}, {"name", "bash"}}},
           {"ranges", {{{"type", "ECOSYSTEM"}, {"events", {{{"introduced", "0"}}, {{"fixed", "5.2.15-2+deb12u1"}}}}}}}},
          {{"package", {{"ecosystem", "Alpine:v3.20"}, {"name", "bash"}}},
           {"ranges", {{{"type", "ECOSYSTEM"}, {"events", {{{"introduced", "0"}}, {{"fixed", "5.2.26-r1"}}}}}}}}}}};
    std::string path = (dir_ / "x_DRILL-2026-0001.json").string();
    write_file(path, advisory.dump(2));
    return path;
  }

  const fs::path& dir() const { return dir_.path(); }

 private:
  Reply serve(const Received& request) {
    if (request.target != "/bash.apk") return {404, {}, "not found\n"};
    std::lock_guard lock(mutex_);
    return {200, {{"Content-Type", "application/octet-stream"}},
            apk_block("bash", bash_version_, "bash", "The GNU Bourne Again shell",
                      "D:/bin/sh so:libc.musl-x86_64.so.1 so:libreadline.so.8\np:cmd:bash=" + bash_version_ +
                          "\nF:bin\nR:bash\na:0:0:755\nZ:Q1Xk2bJ0aWxTJbxJ3VhGvVu2ArAbc=\n")};
  }

  std::map<std::string, std::string> dockerfiles() const {
    return {{"web/Dockerfile", "FROM " + image("base/debian:12") + "\nRUN echo web > /etc/web-release\n"},
            {"tool/Dockerfile", "FROM " + image("base/alpine:3.20") + "\n# installs bash itself, from the mirror\n"
                                "RUN wget -q -O - " + mirror_.url("/bash.apk") + " >> /lib/apk/db/installed\n"},
            {"tool-cli/Dockerfile", "FROM " + image("apps/tool:1") + "\nRUN echo cli > /etc/tool-cli\n"}};
  }

  std::string pipeline_text() const {
    std::string text = "version: 1\nregistries:\n  - host: " + host() + "\n    insecure: true\n"
                       "sources:\n  - name: fleet\n    git: fleet\n    ref: main\n    images:\n";
    for (const char* name : {"web", "tool", "tool-cli"})
      text += "      - image: " + image(std::string("apps/") + name + ":1") + "\n        dockerfile: " + name +
              "/Dockerfile\n";
    return text;
  }

  TempDir dir_;
  DockerRegistry registry_;
  BuildahSandbox sandbox_;
  std::mutex mutex_;
  std::string bash_version_ = "5.2.26-r0";
  ScriptedServer mirror_;
};

}  // namespace cascade::test
