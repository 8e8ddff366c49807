#!/usr/bin/env bash
# Baseline for `cascade graph`: find every FROM line of every repository of the fleet with
# plain git, one `git -C REPO grep -i '^from' main` per repository, sequentially.
# Usage: bench/grep_all.sh FLEET_DIR [REF]   (FLEET_DIR holds repos/*; REF defaults to main)
# Prints the matches (file:line) on stdout; exits nonzero only when git fails.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 FLEET_DIR [REF]" >&2
  exit 2
fi
fleet_dir=$1
ref=${2:-main}

shopt -s nullglob
repos=("$fleet_dir"/repos/*/)
if [[ ${#repos[@]} -eq 0 ]]; then
  echo "$0: no repositories under $fleet_dir/repos" >&2
  exit 2
fi

for repo in "${repos[@]}"; do
  status=0
  git -C "$repo" grep -i '^from' "$ref" || status=$?
  # git grep exits 1 when nothing matched: that is a result, not a failure.
  if [[ $status -gt 1 ]]; then
    echo "$0: git grep failed in $repo (exit $status)" >&2
    exit "$status"
  fi
done
