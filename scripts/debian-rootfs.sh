#!/usr/bin/env bash
# Makes (once) a real Debian 12 root filesystem tarball for the package-scanning tests:
#   mmdebstrap --variant=essential --include=bash bookworm OUT.tar
# in $CASCADE_TEST_CACHE (default /var/cache/cascade-test) and prints its path. A complete
# tarball is reused; a new one is written under a temporary name and renamed, so an
# interrupted run never leaves a half tarball behind. Concurrent runs wait for each other.
# Exit codes: 0 the path is printed; 3 the Debian archive is unreachable; 1 anything else.
# $CASCADE_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -euo pipefail

cache=${CASCADE_TEST_CACHE:-/var/cache/cascade-test}
mirror=${CASCADE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
out="$cache/debian-bookworm-essential-bash.tar"

if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.debian-rootfs.lock"
flock 9
if [ -s "$out" ]; then  # made by a concurrent run while this one waited
  echo "$out"
  exit 0
fi

reachable() {
  curl -fsS --head --max-time 20 -o /dev/null "$mirror/dists/bookworm/InRelease" 2>/dev/null
}
unreachable() {
  echo "debian-rootfs: the Debian archive $mirror is unreachable; cannot make $out" >&2
  exit 3
}

command -v mmdebstrap >/dev/null || { echo "debian-rootfs: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
reachable || unreachable

partial="$cache/.debian-bookworm.$$.partial.tar"
log="$cache/.debian-rootfs.$$.log"
trap 'rm -f "$partial" "$log"' EXIT
started=$(date +%s)
if ! mmdebstrap --quiet --variant=essential --include=bash --format=tar \
     bookworm "$partial" "$mirror" </dev/null >"$log" 2>&1; then
  reachable || unreachable
  echo "debian-rootfs: mmdebstrap failed:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
tar -tf "$partial" ./var/lib/dpkg/status >/dev/null 2>&1 \
  || { echo "debian-rootfs: $partial has no var/lib/dpkg/status" >&2; exit 1; }
mv -f "$partial" "$out"
echo "debian-rootfs: made $out in $(( $(date +%s) - started )) s" >&2
echo "$out"
