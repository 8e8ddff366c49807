#!/usr/bin/env bash
# The main job on the bundled example fleet, unattended, as in production:
#   1. set up, build cascade, turn examples/ into git repositories, show the graph;
#   2. start a registry on 127.0.0.1:5000 whose push notifications go to cascade, a podman
#      API service, and `cascade serve` on 127.0.0.1:8080 (webhooks, API, dashboard);
#   3. build and push the fleet through the API, and run its services in podman;
#   4. publish a patched base image, as another team's pipeline would, and do nothing else:
#      the registry's webhook makes cascade rebuild everything downstream, push it and roll
#      every container over, health-gated;
#   5. print the run's report, the containers on their new images, and the dashboard URL;
#   6. the security drill: a bash advisory (examples/advisories/) against images whose bash
#      comes from an upstream base (a second registry on 127.0.0.1:5001 stands in for Docker
#      Hub) or is installed by the image itself from a package mirror (127.0.0.1:5002):
#      the exposure (images, where bash enters, containers), the fix arriving upstream and in
#      the mirror, `cascade patch --advisory` (verified before rollout), and zero exposure after.
# The registry, podman and the daemon keep running for the dashboard; `scripts/demo.sh stop`
# stops them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
demo=$here/examples/.demo
cascade=$here/build/cascade
base=127.0.0.1:5000/platform/base:1
url=http://127.0.0.1:8080

stop_demo() {
  for name in serve podman registry upstream mirror; do
    [ -f "$demo/$name.pid" ] && kill "$(cat "$demo/$name.pid")" 2>/dev/null || true
  done
  sleep 1
  if [ -S "$demo/podman.sock" ] || [ -d "$demo/podman" ]; then
    podman "${podman_storage[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
  fi
}
podman_storage=(--root "$demo/podman/root" --runroot "$demo/podman/runroot" --storage-driver vfs)
export CONTAINERS_CONF=$demo/containers.conf CONTAINERS_REGISTRIES_CONF=$demo/registries.conf
if [ "${1:-}" = stop ]; then
  stop_demo
  echo "demo stopped"
  exit 0
fi

section() { printf '\n== %s\n' "$*"; }
wait_port() {  # wait_port PORT NAME LOG
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: $2 did not start; its log:" >&2
  cat "$3" >&2
  exit 1
}

"$here/scripts/setup.sh"
"$here/scripts/make-example-repos.sh"
stop_demo  # a previous demo's processes, if any
for port in 5000 5001 5002 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: something already listens on 127.0.0.1:$port; stop it and run again" >&2
    exit 1
  fi
done
rm -rf "$demo"
mkdir -p "$demo"
hook_token=$(openssl rand -hex 16)
export CASCADE_API_TOKEN HOOK_TOKEN=$hook_token
CASCADE_API_TOKEN=$(openssl rand -hex 16)

# The pipeline: the example fleet, plus a podman deploy target and the daemon's triggers.
pipeline=$demo/pipeline.yaml
sed -e 's#\.\./examples/\.repos/#../.repos/#' \
    -e '/^  - host: 127\.0\.0\.1:5000$/{n;s#$#\n  - host: 127.0.0.1:5001\n    insecure: true#}' \
    "$here/pipelines/example.yaml" > "$pipeline"
cat >> "$pipeline" <<YAML
  - name: security
    git: ../.repos/security
    ref: main
    images:
      - image: 127.0.0.1:5000/security/web:1
        dockerfile: web/Dockerfile
      - image: 127.0.0.1:5000/security/tool:1
        dockerfile: tool/Dockerfile
deploy:
  - name: podman
    kind: docker
    endpoint: unix://$demo/podman.sock
    rollout: {batch: 1, max_unavailable: 1, health_timeout: 60s}
triggers:
  listen: 127.0.0.1:8080
  debounce: 2s
  log: text
  webhooks:
    - sender: distribution
      path: registry
      token_env: HOOK_TOKEN
YAML

section "cascade validate, graph and affected"
"$cascade" validate -p "$pipeline"
"$cascade" graph -p "$pipeline"
"$cascade" affected -p "$pipeline" "$base"

section "a registry on 127.0.0.1:5000 that notifies cascade of every push"
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
notifications:
  endpoints:
    - name: cascade
      url: $url/hooks/registry
      headers:
        Authorization: ["Bearer $hook_token"]
      timeout: 2s
      threshold: 5
      backoff: 1s
      ignore:
        actions: [pull]
YAML
docker-registry serve "$demo/registry.yml" > "$demo/registry.log" 2>&1 &
echo $! > "$demo/registry.pid"
wait_port 5000 docker-registry "$demo/registry.log"
echo "registry: 127.0.0.1:5000, notifications to $url/hooks/registry"

section "podman's Docker-compatible API service"
cat > "$demo/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
printf '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n' > "$demo/registries.conf"
podman "${podman_storage[@]}" system service --time=0 "unix://$demo/podman.sock" > "$demo/podman.log" 2>&1 &
echo $! > "$demo/podman.pid"
for _ in $(seq 100); do [ -S "$demo/podman.sock" ] && break; sleep 0.1; done
echo "podman: unix://$demo/podman.sock"

section "an upstream registry on 127.0.0.1:5001 (Docker Hub's stand-in) and a package mirror on :5002"
sed -e "s#rootdirectory: .*#rootdirectory: $demo/upstream#" -e 's#addr: 127.0.0.1:5000#addr: 127.0.0.1:5001#' \
    -e '/^notifications:/,$d' "$demo/registry.yml" > "$demo/upstream.yml"
docker-registry serve "$demo/upstream.yml" > "$demo/upstream.log" 2>&1 &
echo $! > "$demo/upstream.pid"
wait_port 5001 "the upstream registry" "$demo/upstream.log"
mkdir -p "$demo/mirror/apk"
cp "$here/examples/mirror/apk/bash-5.2.26-r0" "$demo/mirror/apk/bash"  # the mirror serves the vulnerable bash
python3 -m http.server 5002 --bind 127.0.0.1 --directory "$demo/mirror" > "$demo/mirror.log" 2>&1 &
echo $! > "$demo/mirror.pid"
wait_port 5002 "the package mirror" "$demo/mirror.log"
buildah_storage=(--root "$demo/buildah/root" --runroot "$demo/buildah/runroot" --storage-driver vfs)
publish_upstream() {  # publish_upstream NAME CONTEXT: build and push 127.0.0.1:5001/upstream/NAME
  buildah "${buildah_storage[@]}" bud --quiet --isolation chroot --format docker -t "127.0.0.1:5001/upstream/$1" "$2" >/dev/null
  buildah "${buildah_storage[@]}" push --quiet --tls-verify=false "127.0.0.1:5001/upstream/$1" "docker://127.0.0.1:5001/upstream/$1"
  echo "published 127.0.0.1:5001/upstream/$1"
}
for name in debian alpine; do
  mkdir -p "$demo/upstream-$name"
  cp -r "$here/examples/upstream/$name/." "$demo/upstream-$name/"
  cp /usr/bin/busybox "$demo/upstream-$name/busybox"
done
cp /var/lib/dpkg/status /etc/os-release "$demo/upstream-debian/"
publish_upstream debian:12 "$demo/upstream-debian"
publish_upstream alpine:3.20 "$demo/upstream-alpine"

section "cascade serve -p $pipeline"
"$cascade" serve -p "$pipeline" > "$demo/serve.log" 2>&1 &
echo $! > "$demo/serve.pid"
wait_port 8080 "cascade serve" "$demo/serve.log"
echo "cascade serve: $url (log: $demo/serve.log)"

section "build and push the fleet through the API: cascade patch --server $url $base"
"$cascade" patch --server "$url" "$base"
"$cascade" patch --server "$url" 127.0.0.1:5001/upstream/debian:12
"$cascade" patch --server "$url" 127.0.0.1:5001/upstream/alpine:3.20

section "run the fleet's services in podman"
remote=(podman --remote --url "unix://$demo/podman.sock")
run_service() {  # run_service NAME SERVICE IMAGE
  "${remote[@]}" run -d --name "$1" --network none --label com.docker.compose.project=demo \
    --label "com.docker.compose.service=$2" "$3" sh -c "trap 'exit 0' TERM; while true; do sleep 1; done" >/dev/null
}
run_service billing-1 billing 127.0.0.1:5000/apps/billing:1
run_service billing-2 billing 127.0.0.1:5000/apps/billing:1
run_service reports-1 reports 127.0.0.1:5000/apps/reports:1
run_service status-1 status 127.0.0.1:5000/apps/status:1
run_service security-web web 127.0.0.1:5000/security/web:1
run_service security-tool tool 127.0.0.1:5000/security/tool:1
"${remote[@]}" ps --format '{{.Names}}  {{.Image}}  {{.ImageID}}'
"$cascade" inventory -p "$pipeline"

section "publish a patched base image (another team's pipeline; cascade is not told)"
mkdir -p "$demo/patched-base"
cp "$here/examples/.repos/platform/base/busybox" "$demo/patched-base/"
{ cat "$here/examples/.repos/platform/base/Dockerfile"; echo 'RUN echo "CVE-2026-0001 fixed" > /etc/fixed'; } \
  > "$demo/patched-base/Dockerfile"
buildah "${buildah_storage[@]}" bud --quiet --isolation chroot --format docker --tls-verify=false \
  -t "$base" "$demo/patched-base" >/dev/null
buildah "${buildah_storage[@]}" push --quiet --tls-verify=false --digestfile "$demo/patched.digest" "$base" "docker://$base"
patched=$(cat "$demo/patched.digest")
echo "pushed $base@$patched"

section "the registry's webhook triggers the cascade: rebuild, push, roll over (waiting)"
run=""
for _ in $(seq 600); do
  run=$("$cascade" status --server "$url" --format json | python3 -c '
import json, sys
for run in json.load(sys.stdin)["runs"]:
    if run["trigger"]["kind"] == "webhook" and run["state"] not in ("planned", "running"):
        print(run["id"]); break')
  [ -n "$run" ] && break
  sleep 1
done
[ -n "$run" ] || { echo "demo: no webhook run finished; see $demo/serve.log" >&2; exit 1; }
grep -E "trigger|run started|pushed|deployed|rolled back|run finished" "$demo/serve.log" | tail -n 40 || true

section "cascade status --server $url $run"
"$cascade" status --server "$url" "$run"

section "every container runs the patched image"
"${remote[@]}" ps --format '{{.Names}}  {{.Image}}  {{.ImageID}}'
"$cascade" inventory -p "$pipeline"

advisory=$here/examples/advisories/x_DEMO-2026-0001.json
section "the security drill: ${advisory#"$here/"}"
"$cascade" scan -p "$pipeline"
echo "-- before: which images and containers carry the vulnerable bash, and where it enters"
"$cascade" affected -p "$pipeline" --advisory "$advisory"
echo "-- the fix arrives: Debian publishes a fixed base upstream; the mirror serves the fixed apk"
sed -i -e '/^Package: bash$/,/^$/{s/^Source: bash.*/Source: bash (5.2.15-2+deb12u1)/;s/^Version: .*/Version: 5.2.15-2+deb12u1/}' \
    "$demo/upstream-debian/status"
publish_upstream debian:12 "$demo/upstream-debian"
cp "$here/examples/mirror/apk/bash-5.2.26-r1" "$demo/mirror/apk/bash"
echo "-- cascade patch --advisory: rebuild from where bash enters, verify each image, roll out"
"$cascade" patch -p "$pipeline" --advisory "$advisory"
echo "-- after"
"$cascade" affected -p "$pipeline" --advisory "$advisory"

section "done"
echo "dashboard: $url/   (metrics: $url/metrics, API: $url/api/runs)"
echo "the registry, podman and cascade serve keep running; stop them with: scripts/demo.sh stop"
