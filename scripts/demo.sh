#!/usr/bin/env bash
# The main job on the bundled example fleet: set up, turn examples/ into git repositories,
# check the pipeline file, print the image graph and what a patch of the fleet's base
# would affect; then start a registry on 127.0.0.1:5000, patch the base for real (build
# and push everything downstream, in order, with buildah), and patch again (nothing to do).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/make-example-repos.sh"
cascade=$here/build/cascade
pipeline=$here/pipelines/example.yaml
base=127.0.0.1:5000/platform/base:1
demo=$here/examples/.demo

section() { printf '\n== %s\n' "$*"; }
section "cascade validate -p pipelines/example.yaml"
"$cascade" validate -p "$pipeline"
section "cascade graph -p pipelines/example.yaml"
"$cascade" graph -p "$pipeline"
section "cascade graph -p pipelines/example.yaml --format mermaid"
"$cascade" graph -p "$pipeline" --format mermaid
section "cascade affected -p pipelines/example.yaml $base"
"$cascade" affected -p "$pipeline" "$base"

# A fresh registry and state for the demonstration.
if (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then
  echo "demo: something already listens on 127.0.0.1:5000; stop it and run again" >&2
  exit 1
fi
rm -rf "$demo" "$here/pipelines/.cascade"
mkdir -p "$demo"
cat > "$demo/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $demo/registry
http:
  addr: 127.0.0.1:5000
YAML
docker-registry serve "$demo/registry.yml" > "$demo/registry.log" 2>&1 &
registry_pid=$!
trap 'kill "$registry_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null && break
  sleep 0.1
done

section "cascade plan -p pipelines/example.yaml $base"
"$cascade" plan -p "$pipeline" "$base"
section "cascade patch -p pipelines/example.yaml $base --parallel 2"
"$cascade" patch -p "$pipeline" "$base" --parallel 2
section "cascade patch again: every image is already built on its bases' digests"
"$cascade" patch -p "$pipeline" "$base"
section "cascade status -p pipelines/example.yaml"
"$cascade" status -p "$pipeline"
