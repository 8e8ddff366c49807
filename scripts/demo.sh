#!/usr/bin/env bash
# The main job on the bundled example fleet: set up, turn examples/ into git
# repositories, check the pipeline file, print the image graph, and show what a patch of
# the fleet's base image would affect.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/make-example-repos.sh"
cascade=$here/build/cascade
pipeline=$here/pipelines/example.yaml

section() { printf '\n== %s\n' "$*"; }
section "cascade validate -p pipelines/example.yaml"
"$cascade" validate -p "$pipeline"
section "cascade graph -p pipelines/example.yaml"
"$cascade" graph -p "$pipeline"
section "cascade graph -p pipelines/example.yaml --format mermaid"
"$cascade" graph -p "$pipeline" --format mermaid
section "cascade affected -p pipelines/example.yaml 127.0.0.1:5000/platform/base:1"
"$cascade" affected -p "$pipeline" 127.0.0.1:5000/platform/base:1
