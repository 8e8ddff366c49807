#!/usr/bin/env bash
# Installs every Debian package cascade's build, tests, examples and benchmarks need, then
# configures and builds cascade into build/. Idempotent: installed packages are skipped,
# and the build is incremental. Run as root on Debian 12.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # build (ccache: the build uses it when present)
  cmake g++ ninja-build pkg-config git ccache
  # sanitizer runtimes for scripts/sanitize.sh (g++ 12 pulls them in; named to be explicit)
  libasan8 libubsan1 libtsan2
  # libraries
  libboost1.81-dev libboost-url1.81-dev libboost-filesystem1.81-dev libyaml-cpp-dev nlohmann-json3-dev
  libgit2-dev doctest-dev libsqlite3-dev libssl-dev libcli11-dev
  # image layers (tar, gzip, zstd) streamed from the registry
  libarchive-dev
  # a real Debian root filesystem for the package tests (scripts/debian-rootfs.sh); rpm made
  # the rpmdb.sqlite fixture (tests/data/packages/make-rpmdb.sh)
  mmdebstrap rpm
  # cron schedules in IANA time zones (date/tz.h over the system tz database)
  libhowardhinnant-date-dev tzdata
  # the dashboard's browser test
  chromium
  # the real peers the tests and the demo talk to
  docker-registry buildah podman runc busybox-static skopeo
  # real Docker Engines (dockerd 20.10 with BuildKit inside): build workers and a deploy target
  docker.io
  # bcrypt htpasswd files for the registry tests' Basic-auth registry
  apache2-utils
  # certificates and keys the TLS and token tests make
  openssl ca-certificates
  # benchmarks
  wrk hyperfine time python3
  prometheus  # promtool: the metrics test checks the /metrics exposition with "promtool check metrics"
  # rendering graphs (the tests check that the DOT output renders)
  graphviz
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASCADE_WERROR=ON >/dev/null
cmake --build "$here/build" --parallel "$(nproc)"
