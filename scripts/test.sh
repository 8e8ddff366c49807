#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test with ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cd "$here/build"
ctest --output-on-failure --timeout 1200 "$@"
