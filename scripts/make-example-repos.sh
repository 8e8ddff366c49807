#!/usr/bin/env bash
# Turns each folder of examples/ into a git repository under examples/.repos/ (or DEST),
# with one commit on branch main. Idempotent: the repositories are made anew each time,
# with fixed author and dates, so the commit ids are the same on every machine.
# CASCADE_EXAMPLE_REGISTRY=host:port puts the fleet in that registry instead of
# 127.0.0.1:5000 (tests run their own registry on a free port).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$here/examples/.repos}
busybox=${BUSYBOX:-/usr/bin/busybox}
[ -x "$busybox" ] || { echo "make-example-repos: $busybox not found (apt-get install busybox-static)" >&2; exit 2; }

export GIT_AUTHOR_NAME="cascade example" GIT_AUTHOR_EMAIL="example@cascade.invalid"
export GIT_COMMITTER_NAME="cascade example" GIT_COMMITTER_EMAIL="example@cascade.invalid"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

mkdir -p "$dest"
for repo in platform runtimes apps security; do
  rm -rf "${dest:?}/$repo"
  cp -r "$here/examples/$repo" "$dest/$repo"
  if [ "$repo" = platform ]; then cp "$busybox" "$dest/$repo/base/busybox"; fi
  if [ -n "${CASCADE_EXAMPLE_REGISTRY:-}" ]; then
    find "$dest/$repo" -name Dockerfile -exec sed -i "s#127\.0\.0\.1:5000#${CASCADE_EXAMPLE_REGISTRY}#g" {} +
  fi
  git -C "$dest/$repo" init -q -b main
  git -C "$dest/$repo" add -A
  git -C "$dest/$repo" commit -q -m "example fleet: $repo"
done
echo "example repositories in $dest: platform runtimes apps security"
