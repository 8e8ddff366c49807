// Image references, parsed and normalized exactly as distribution/reference does
// (ParseNormalizedNamed + TagNameOnly); see shared/reference/DOCKERFILE.md section 11.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cascade/util/expected.hpp"

namespace cascade::reference {

struct Reference {
  // As written, never case-folded: "docker.io", "localhost:5000", "[fd00::7]:5000".
  // Empty only when the first component looked like a host but is none, while being a
  // valid path component ("my_reg.io/app": path "my_reg.io/app"), as in distribution.
  std::string domain;
  std::string path;          // "library/debian"; lowercase, at most 255 characters
  std::string tag;           // "12"; "latest" when the input had neither; empty with a digest only
  std::string digest;        // "sha256:<lowercase hex>", or empty
  bool tag_implied = false;  // true when "latest" was added by normalization

  /// domain/path, e.g. "docker.io/library/debian" (just the path when domain is empty).
  std::string repository() const;
  /// The normalized full form: domain/path[:tag][@digest].
  std::string str() const;
  /// The familiar short form for display: "debian:12", "grafana/grafana:11",
  /// "quay.io/coreos/etcd:v3" (docker.io and library/ dropped, like docker's FamiliarString).
  std::string familiar() const;
  /// The same reference without its digest (the tag is kept; "latest" if there was none).
  Reference without_digest() const;

  friend bool operator==(const Reference&, const Reference&) = default;
};

struct ParseError {
  std::string message;   // what is wrong, e.g. "repository name must be lowercase"
  std::size_t position;  // 0-based offset into the input where the problem starts
};

/// Parses and normalizes `text`; fails with ParseError on anything
/// distribution/reference rejects (grammar, lowercase, length, digest rules), with
/// distribution's wording plus a hint and the offset, e.g.
/// "invalid reference format: tag must start with a letter, digit or '_' (at offset 7)".
Expected<Reference, ParseError> parse(std::string_view text);

/// Validates a digest "algorithm:hex" by go-digest's rules (sha256/sha384/sha512,
/// exact length, lowercase hex); fails with the reason.
Expected<void, ParseError> validate_digest(std::string_view digest);

}  // namespace cascade::reference
