// Version ordering of the three package ecosystems cascade reads, each exactly as its own
// tool orders versions (shared/reference/PACKAGES.md sections 4, 6 and 8):
//   dpkg: `dpkg --compare-versions` (epoch, upstream, revision; `~` before everything)
//   apk:  apk-tools 3.x `apk version -t` (digits, one letter, _alpha.._p suffixes, ~hash, -rN)
//   rpm:  `rpm.vercmp` on full EVRs (epoch, rpmvercmp on version then release, `~` and `^`)
// Pure: text in, an ordering out. Never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cascade::version {

enum class Scheme { dpkg, apk, rpm };

/// "dpkg", "apk", "rpm".
std::string_view to_string(Scheme scheme);

/// Negative when `a` is older than `b`, 0 when they are the same version, positive when
/// newer (always -1, 0 or 1), as the scheme's own tool orders them. Malformed input is
/// compared as that tool would still compare it (dpkg and rpm never fail; apk 3.x treats
/// text that turns invalid where the other version ends as older: `1.0_foo < 1.0`).
int compare(Scheme scheme, std::string_view a, std::string_view b);
int compare_dpkg(std::string_view a, std::string_view b);
int compare_apk(std::string_view a, std::string_view b);
int compare_rpm(std::string_view a, std::string_view b);  // full EVRs: "[E:]V[-R]"

/// Why `text` is not a well-formed version of `scheme` ("empty version", "epoch is not a
/// number", "invalid character '!' at 4"), or nullopt when it is one. Used to refuse a
/// constraint a person typed (`bash<5.2.15-2+b7`) before comparing anything.
std::optional<std::string> invalid_reason(Scheme scheme, std::string_view text);

}  // namespace cascade::version
