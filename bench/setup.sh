#!/usr/bin/env bash
# Installs what the benchmarks need when it is missing: GNU time (/usr/bin/time, Debian
# package `time`), hyperfine, python3, git, skopeo and docker-registry. Does nothing when all
# are present.
set -euo pipefail

missing=()
if ! /usr/bin/time -f '%e %M' true >/dev/null 2>&1; then missing+=(time); fi
if ! command -v hyperfine >/dev/null 2>&1; then missing+=(hyperfine); fi
if ! command -v python3 >/dev/null 2>&1; then missing+=(python3); fi
if ! command -v git >/dev/null 2>&1; then missing+=(git); fi
if ! command -v skopeo >/dev/null 2>&1; then missing+=(skopeo); fi
if ! command -v docker-registry >/dev/null 2>&1; then missing+=(docker-registry); fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: GNU time, hyperfine, python3, git, skopeo and docker-registry are present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
