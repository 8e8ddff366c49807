// Layer indexes: which layer paths cascade reads, path normalization, making a LayerFile
// from a file's bytes, and the fold of an image's layers into its packages (whiteouts and
// opaque directories of a layer hide lower layers only; links to os-release followed).
#include <algorithm>
#include <map>
#include <tuple>

#include "cascade/layer_index.hpp"

namespace cascade::packages {

namespace {

struct KindName {
  FileKind kind;
  std::string_view name;
};
constexpr KindName kKindNames[] = {
    {FileKind::dpkg_status, "dpkg-status"},     {FileKind::dpkg_status_d, "dpkg-status.d"},
    {FileKind::apk_installed, "apk-installed"}, {FileKind::rpm_sqlite, "rpmdb.sqlite"},
    {FileKind::rpm_bdb, "rpm-bdb"},             {FileKind::rpm_ndb, "rpm-ndb"},
    {FileKind::os_release, "os-release"},
};

bool starts_with_dir(std::string_view path, std::string_view dir) {
  return dir.empty() || path == dir || (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

}  // namespace

std::string_view to_string(FileKind kind) {
  for (const auto& entry : kKindNames)
    if (entry.kind == kind) return entry.name;
  return "unknown";
}

std::optional<FileKind> parse_file_kind(std::string_view text) {
  for (const auto& entry : kKindNames)
    if (entry.name == text) return entry.kind;
  return std::nullopt;
}

std::optional<Format> format_of(FileKind kind) {
  switch (kind) {
    case FileKind::dpkg_status:
    case FileKind::dpkg_status_d: return Format::dpkg;
    case FileKind::apk_installed: return Format::apk;
    case FileKind::rpm_sqlite:
    case FileKind::rpm_bdb:
    case FileKind::rpm_ndb: return Format::rpm;
    case FileKind::os_release: return std::nullopt;
  }
  return std::nullopt;
}

std::string normalize_path(std::string_view tar_name) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= tar_name.size()) {
    std::size_t slash = tar_name.find('/', start);
    if (slash == std::string_view::npos) slash = tar_name.size();
    std::string_view part = tar_name.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string path;
  for (auto part : parts) {
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

std::optional<FileKind> classify(std::string_view path) {
  if (path == "var/lib/dpkg/status") return FileKind::dpkg_status;
  constexpr std::string_view status_d = "var/lib/dpkg/status.d/";
  if (path.size() > status_d.size() && path.substr(0, status_d.size()) == status_d) {
    std::string_view name = path.substr(status_d.size());
    bool md5sums = name.size() >= 8 && name.substr(name.size() - 8) == ".md5sums";
    if (name.find('/') == std::string_view::npos && !md5sums) return FileKind::dpkg_status_d;
  }
  if (path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed") return FileKind::apk_installed;
  for (std::string_view dir : {"var/lib/rpm/", "usr/lib/sysimage/rpm/"}) {
    if (path.substr(0, dir.size()) != dir) continue;
    std::string_view name = path.substr(dir.size());
    if (name == "rpmdb.sqlite") return FileKind::rpm_sqlite;
    if (name == "Packages") return FileKind::rpm_bdb;
    if (name == "Packages.db") return FileKind::rpm_ndb;
  }
  if (path == "etc/os-release" || path == "usr/lib/os-release") return FileKind::os_release;
  return std::nullopt;
}

namespace {

void set_packages(LayerFile& file, Expected<std::vector<Package>, ParseError> parsed) {
  if (parsed) {
    file.packages = std::move(*parsed);
    return;
  }
  const ParseError& error = parsed.error();
  file.problem = error.line ? "line " + std::to_string(error.line) + ": " + error.message : error.message;
}

}  // namespace

LayerFile index_file(std::string path, FileKind kind, std::string_view bytes) {
  LayerFile file;
  file.path = std::move(path);
  file.kind = kind;
  switch (kind) {
    case FileKind::dpkg_status: set_packages(file, parse_dpkg_status(bytes)); break;
    case FileKind::dpkg_status_d: set_packages(file, parse_dpkg_status(bytes, true)); break;
    case FileKind::apk_installed: set_packages(file, parse_apk_installed(bytes)); break;
    case FileKind::rpm_sqlite: set_packages(file, parse_rpmdb_sqlite(bytes)); break;
    case FileKind::rpm_bdb: file.problem = "rpm BerkeleyDB database: not indexed (cascade reads rpmdb.sqlite)"; break;
    case FileKind::rpm_ndb: file.problem = "rpm ndb database: not indexed (cascade reads rpmdb.sqlite)"; break;
    case FileKind::os_release: file.os = parse_os_release(bytes); break;
  }
  return file;
}

namespace {

using PackageKey = std::tuple<int, std::string, std::string>;  // format, name, architecture

struct Present {
  const LayerFile* file = nullptr;
};

// The merged tree's files of interest after each layer, by path.
class Tree {
 public:
  void apply(const LayerIndex& layer) {
    std::vector<std::string> hidden;
    for (const auto& entry : files_) {
      // Not a structured binding: clang before 16 cannot capture one in the lambdas below.
      const std::string& path = entry.first;
      bool gone = std::any_of(layer.whiteouts.begin(), layer.whiteouts.end(),
                              [&](const std::string& w) { return starts_with_dir(path, w); }) ||
                  std::any_of(layer.opaque_dirs.begin(), layer.opaque_dirs.end(), [&](const std::string& dir) {
                    return path != dir && starts_with_dir(path, dir);
                  });
      if (gone) hidden.push_back(path);
    }
    for (const auto& path : hidden) files_.erase(path);
    for (const LayerFile& file : layer.files) files_[file.path] = Present{&file};
  }

  const std::map<std::string, Present>& files() const { return files_; }

  /// The os-release file: etc/os-release, else usr/lib/os-release, following links (a few hops).
  std::optional<OsRelease> os() const {
    for (std::string path : {"etc/os-release", "usr/lib/os-release"}) {
      for (int hop = 0; hop < 8; ++hop) {
        auto found = files_.find(path);
        if (found == files_.end()) break;
        const LayerFile& file = *found->second.file;
        if (file.link.empty()) {
          if (file.os) return file.os;
          break;
        }
        std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
        path = file.link.front() == '/' ? normalize_path(file.link) : normalize_path(dir + "/" + file.link);
      }
    }
    return std::nullopt;
  }

 private:
  std::map<std::string, Present> files_;
};

std::map<PackageKey, std::pair<Package, Format>> packages_of(const Tree& tree) {
  std::map<PackageKey, std::pair<Package, Format>> result;
  for (const auto& [path, present] : tree.files()) {
    const LayerFile& file = *present.file;
    auto format = format_of(file.kind);
    if (!format || !file.link.empty()) continue;
    for (const Package& package : file.packages)
      result.emplace(PackageKey{static_cast<int>(*format), package.name, package.architecture}, std::pair{package, *format});
  }
  return result;
}

bool touches_databases(const LayerIndex& layer) {
  auto database = [](const std::string& path) {
    return starts_with_dir("var/lib/dpkg", path) || starts_with_dir("lib/apk", path) || starts_with_dir("usr/lib/apk", path) ||
           starts_with_dir("var/lib/rpm", path) || starts_with_dir("usr/lib/sysimage/rpm", path) ||
           starts_with_dir(path, "var/lib/dpkg") || starts_with_dir(path, "lib/apk") || starts_with_dir(path, "usr/lib/apk") ||
           starts_with_dir(path, "var/lib/rpm") || starts_with_dir(path, "usr/lib/sysimage/rpm");
  };
  return std::any_of(layer.files.begin(), layer.files.end(), [](const LayerFile& f) { return format_of(f.kind).has_value(); }) ||
         std::any_of(layer.whiteouts.begin(), layer.whiteouts.end(), database) ||
         std::any_of(layer.opaque_dirs.begin(), layer.opaque_dirs.end(), database);
}

}  // namespace

ImageContents fold(const std::vector<const LayerIndex*>& layers) {
  Tree tree;
  std::map<PackageKey, std::pair<Package, Format>> current;
  std::map<PackageKey, std::size_t> entered;
  for (std::size_t index = 0; index < layers.size(); ++index) {
    tree.apply(*layers[index]);
    if (!touches_databases(*layers[index])) continue;
    auto next = packages_of(tree);
    std::map<PackageKey, std::size_t> next_entered;
    for (const auto& [key, value] : next) {
      auto before = current.find(key);
      bool same = before != current.end() && before->second.first.version == value.first.version;
      next_entered[key] = same ? entered[key] : index;
    }
    current = std::move(next);
    entered = std::move(next_entered);
  }
  ImageContents contents;
  contents.os = tree.os();
  for (const auto& [path, present] : tree.files()) {
    const LayerFile& file = *present.file;
    if (!format_of(file.kind)) continue;
    contents.has_database = true;
    if (!file.problem.empty()) contents.problems.push_back(path + ": " + file.problem);
  }
  for (auto& [key, value] : current)
    contents.packages.push_back(ImagePackage{std::move(value.first), value.second, entered[key]});
  std::sort(contents.packages.begin(), contents.packages.end(), [](const ImagePackage& a, const ImagePackage& b) {
    return std::tie(a.package.name, a.package.architecture) < std::tie(b.package.name, b.package.architecture);
  });
  return contents;
}

}  // namespace cascade::packages
