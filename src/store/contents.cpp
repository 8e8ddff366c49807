// SqliteStore: image contents. Layer indexes (files, os-release fields, packages) stored
// once per digest in typed tables, what each image digest is made of, and the latest scan
// of each subject. Lists of paths and digests are JSON text, as elsewhere in the schema.
#include <nlohmann/json.hpp>

#include "sqlite_store.hpp"

namespace cascade::store {

using sql::Failure;
using nlohmann::json;

namespace {

std::vector<std::string> string_list(const std::string& text, const char* column) {
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) throw Failure(ErrorCode::io, std::string("column ") + column + " is not a JSON list");
  std::vector<std::string> values;
  for (const auto& value : parsed)
    if (value.is_string()) values.push_back(value.get<std::string>());
  return values;
}

void insert_file(sql::Connection& db, const std::string& layer, std::int64_t position, const packages::LayerFile& file) {
  std::optional<std::string> id, version_id, version, id_like, pretty;
  if (file.os) {
    id = file.os->id, version_id = file.os->version_id, version = file.os->version;
    id_like = file.os->id_like, pretty = file.os->pretty_name;
  }
  db.prepare("INSERT INTO layer_files (layer, position, path, kind, problem, link, os_id, os_version_id, os_version, "
             "os_id_like, os_pretty_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
      .bind_all(layer, position, file.path, packages::to_string(file.kind), file.problem, file.link, id, version_id,
                version, id_like, pretty)
      .run();
  auto insert = db.prepare("INSERT INTO layer_packages (layer, file_position, position, name, version, source_name, "
                           "source_version, architecture) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  std::int64_t index = 0;
  for (const auto& package : file.packages) {
    insert.bind_all(layer, position, index++, package.name, package.version, package.source_name, package.source_version,
                    package.architecture);
    insert.run();
    insert.reset();
  }
}

}  // namespace

Expected<void, Error> SqliteStore::put_layer_index(const packages::LayerIndex& layer) {
  return locked("put_layer_index(" + layer.digest + ")", [&] {
    {
      auto exists = db_.prepare("SELECT 1 FROM layers WHERE digest = ?1");
      exists.bind(1, layer.digest);
      if (exists.step()) return;
    }
    cache_write([&] { insert_layer(layer); });
  });
}

void SqliteStore::insert_layer(const packages::LayerIndex& layer) {
  db_.prepare("INSERT OR IGNORE INTO layers (digest, uncompressed_bytes, whiteouts, opaque_dirs, indexed_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(layer.digest, static_cast<std::int64_t>(layer.uncompressed_bytes), json(layer.whiteouts).dump(),
                json(layer.opaque_dirs).dump(), now_ms())
      .run();
  if (db_.changes() == 0) return;  // another process stored it meanwhile
  for (std::size_t position = 0; position < layer.files.size(); ++position)
    insert_file(db_, layer.digest, static_cast<std::int64_t>(position), layer.files[position]);
}

Expected<std::vector<std::string>, Error> SqliteStore::known_layers(const std::vector<std::string>& digests) {
  return locked("known_layers", [&] {
    std::vector<std::string> known;
    auto rows = db_.prepare("SELECT digest FROM layers WHERE digest IN (SELECT value FROM json_each(?1))");
    rows.bind(1, json(digests).dump());
    while (rows.step()) known.push_back(rows.text(0));
    return known;
  });
}

std::map<std::string, packages::LayerIndex> SqliteStore::read_layers(const std::string& where,
                                                                     const std::string& digests_json,
                                                                     const std::string& names_json) {
  sql::Transaction transaction(db_, sql::Transaction::Mode::read);
  std::map<std::string, packages::LayerIndex> layers;
  auto bind = [&](sql::Statement& statement) {
    if (!digests_json.empty()) statement.bind(1, digests_json);
  };
  auto rows = db_.prepare("SELECT digest, uncompressed_bytes, whiteouts, opaque_dirs FROM layers " + where);
  bind(rows);
  while (rows.step()) {
    packages::LayerIndex& layer = layers[rows.text(0)];
    layer.digest = rows.text(0);
    layer.uncompressed_bytes = static_cast<std::uint64_t>(rows.int64(1));
    layer.whiteouts = string_list(rows.text(2), "layers.whiteouts");
    layer.opaque_dirs = string_list(rows.text(3), "layers.opaque_dirs");
  }
  std::string in_layers = where.empty() ? "" : "WHERE layer IN (SELECT digest FROM layers " + where + ") ";
  auto files = db_.prepare("SELECT layer, path, kind, problem, link, os_id, os_version_id, os_version, os_id_like, "
                           "os_pretty_name FROM layer_files " + in_layers + "ORDER BY layer, position");
  bind(files);
  while (files.step()) {
    packages::LayerFile file;
    file.path = files.text(1);
    file.kind = stored(packages::parse_file_kind, files.text(2), "layer_files.kind");
    file.problem = files.text(3);
    file.link = files.text(4);
    if (!files.is_null(5))
      file.os = packages::OsRelease{files.text(5), files.text(6), files.text(7), files.text(8), files.text(9)};
    layers[files.text(0)].files.push_back(std::move(file));
  }
  std::string packages_where = in_layers;
  if (!names_json.empty())
    packages_where = "WHERE (name IN (SELECT value FROM json_each(?2)) OR source_name IN (SELECT value FROM json_each(?2))) " +
                     (in_layers.empty() ? std::string() : "AND " + in_layers.substr(6));
  auto rows_of_packages = db_.prepare("SELECT layer, file_position, name, version, source_name, source_version, "
                                      "architecture FROM layer_packages " + packages_where +
                                      "ORDER BY layer, file_position, position");
  bind(rows_of_packages);
  if (!names_json.empty()) rows_of_packages.bind(2, names_json);
  while (rows_of_packages.step()) {
    auto& files_of_layer = layers[rows_of_packages.text(0)].files;
    auto position = static_cast<std::size_t>(rows_of_packages.int64(1));
    if (position >= files_of_layer.size()) throw Failure(ErrorCode::io, "layer_packages names a missing file");
    files_of_layer[position].packages.push_back(packages::Package{rows_of_packages.text(2), rows_of_packages.text(3),
                                                                  rows_of_packages.text(4), rows_of_packages.text(5),
                                                                  rows_of_packages.text(6)});
  }
  return layers;
}

Expected<std::map<std::string, packages::LayerIndex>, Error> SqliteStore::get_layer_indexes(
    const std::vector<std::string>& digests) {
  return locked("get_layer_indexes", [&] {
    return read_layers("WHERE digest IN (SELECT value FROM json_each(?1))", json(digests).dump());
  });
}

Expected<std::map<std::string, packages::LayerIndex>, Error> SqliteStore::all_layer_indexes(
    const std::optional<std::vector<std::string>>& package_names) {
  return locked("all_layer_indexes", [&] { return read_layers("", "", package_names ? json(*package_names).dump() : ""); });
}

Expected<void, Error> SqliteStore::put_image_layers(const ImageLayers& image) {
  return locked("put_image_layers(" + image.digest + ")", [&] {
    cache_write([&] {
      db_.prepare("INSERT INTO image_layers (digest, image_digest, layers, read_at) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (digest) DO NOTHING")
          .bind_all(image.digest, image.image_digest, json(image.layers).dump(), now_ms())
          .run();
    });
  });
}

Expected<std::optional<ImageLayers>, Error> SqliteStore::get_image_layers(const std::string& digest) {
  return locked("get_image_layers(" + digest + ")", [&]() -> std::optional<ImageLayers> {
    auto row = db_.prepare("SELECT image_digest, layers FROM image_layers WHERE digest = ?1");
    row.bind(1, digest);
    if (!row.step()) return std::nullopt;
    return ImageLayers{digest, row.text(0), string_list(row.text(1), "image_layers.layers")};
  });
}

Expected<std::vector<ImageLayers>, Error> SqliteStore::all_image_layers() {
  return locked("all_image_layers", [&] {
    std::vector<ImageLayers> images;
    auto rows = db_.prepare("SELECT digest, image_digest, layers FROM image_layers ORDER BY digest");
    while (rows.step())
      images.push_back(ImageLayers{rows.text(0), rows.text(1), string_list(rows.text(2), "image_layers.layers")});
    return images;
  });
}

Expected<void, Error> SqliteStore::record_image_scan(const ImageScan& scan) {
  return record_image_scans({scan});
}

Expected<void, Error> SqliteStore::record_image_scans(const std::vector<ImageScan>& scans) {
  return locked("record_image_scans(" + std::to_string(scans.size()) + ")", [&] {
    cache_write([&] {
      auto insert = db_.prepare("INSERT OR REPLACE INTO image_scans (role, subject, image, digest, scanned_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)");
      for (const auto& scan : scans) {
        insert.bind_all(to_string(scan.role), scan.subject, scan.image, scan.digest, now_ms());
        insert.run();
        insert.reset();
      }
    });
  });
}

Expected<void, Error> SqliteStore::retain_image_scans(ScanRole role, const std::vector<std::string>& keep) {
  return locked("retain_image_scans", [&] {
    db_.prepare("DELETE FROM image_scans WHERE role = ?1 AND subject NOT IN (SELECT value FROM json_each(?2))")
        .bind_all(to_string(role), json(keep).dump())
        .run();
  });
}

Expected<std::vector<ImageScan>, Error> SqliteStore::image_scans(bool history) {
  return locked("image_scans", [&] {
    std::vector<ImageScan> scans;
    auto rows = db_.prepare(history ? "SELECT role, subject, image, digest, scanned_at FROM image_scans ORDER BY id"
                                    : "SELECT role, subject, image, digest, scanned_at FROM image_scans WHERE id IN "
                                      "(SELECT max(id) FROM image_scans GROUP BY role, subject) ORDER BY role, subject");
    while (rows.step())
      scans.push_back(ImageScan{stored(parse_scan_role, rows.text(0), "image_scans.role"), rows.text(1), rows.text(2),
                                rows.text(3), to_time(rows.int64(4))});
    return scans;
  });
}

Expected<void, Error> SqliteStore::set_task_verdict(RunId run, const std::string& image, const std::string& verdict) {
  return locked("set_task_verdict(run " + std::to_string(run) + ", " + image + ")", [&] {
    db_.prepare("UPDATE tasks SET verdict = ?3 WHERE run_id = ?1 AND image = ?2").bind_all(run, image, verdict).run();
    if (db_.changes() == 0) throw Failure(ErrorCode::not_found, "no task " + image + " in run " + std::to_string(run));
  });
}

}  // namespace cascade::store
