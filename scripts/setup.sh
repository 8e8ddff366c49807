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
  # foreign platforms (linux/arm64) built under emulation: qemu's static user-mode emulators,
  # registered with the kernel's binfmt_misc below
  qemu-user-static binfmt-support
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

# binfmt_misc: the kernel runs arm64 (and other foreign) binaries through qemu, which is what
# `buildah bud --platform linux/arm64` needs for RUN steps. No systemd here: mount and enable.
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
# An arm64 busybox for the multi-platform tests, the example fleet and the benchmarks (the
# amd64 one is /usr/bin/busybox): Debian's busybox-static:arm64, unpacked, not installed.
arm64_busybox=/var/cache/cascade/arm64/busybox
if [ ! -x "$arm64_busybox" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  scratch=$(mktemp -d) && chmod 755 "$scratch"  # apt downloads as _apt
  (cd "$scratch" && apt-get download -qq busybox-static:arm64 >/dev/null && dpkg-deb -x busybox-static_*_arm64.deb root)
  mkdir -p "$(dirname "$arm64_busybox")"
  install -m 0755 "$scratch/root/bin/busybox" "$arm64_busybox"
  rm -rf "$scratch"
fi

# A unity build (each library's files compiled as one unit, tests as ever): a fresh machine
# compiles cascade in about half the time. Incremental work may prefer -DCMAKE_UNITY_BUILD=OFF.
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASCADE_WERROR=ON \
  -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build "$here/build" --parallel "$(nproc)"
