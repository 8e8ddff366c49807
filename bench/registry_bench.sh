#!/usr/bin/env bash
# Registry benchmark: a real docker-registry on 127.0.0.1, one tiny image pushed by skopeo,
# 1,000 tags made by cascade (one GET, the same bytes PUT per tag), then all 1,000 digests resolved by cascade's
# client (parallel, pooled keep-alive) versus `skopeo inspect` per image on a sample,
# extrapolated. Writes only under bench/.work/registry. Options: --tags N --threads T
# --sample S --build DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work="$here/bench/.work/registry"
tags=1000 threads=16 sample=20 build="$here/build-bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --tags) tags=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCASCADE_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
ninja -C "$build" registry_bench >/dev/null

rm -rf "$work" && mkdir -p "$work/data" "$work/oci/blobs/sha256"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cat > "$work/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $work/data
http:
  addr: $host
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; wait $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null && break; sleep 0.05; done

# One tiny OCI image written by hand: a layer with one file, a config with a label.
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$work/oci/blobs/sha256/$d"; echo "$d"; }
echo hello > "$work/hello.txt"
tar -C "$work" -cf "$work/layer.tar" hello.txt
layer_size=$(stat -c %s "$work/layer.tar"); layer=$(blob "$work/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Labels":{"bench":"1"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$layer" > "$work/config.json"
config_size=$(stat -c %s "$work/config.json"); config=$(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json"); manifest=$(blob "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' \
  "$manifest" "$manifest_size" > "$work/oci/index.json"
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$work/oci" "docker://$host/bench/app:base"

"$build/bench/registry_bench" --registry "$host" --tags "$tags" --threads "$threads" > "$work/cascade.json"

# skopeo inspect, one process per image, on a sample of the tags.
started=$(date +%s.%N)
for i in $(seq 0 $((sample - 1))); do
  tag=$(printf 't%04d' $((i * tags / sample)))
  digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$host/bench/app:$tag")
  [ "$digest" = "sha256:$manifest" ] || { echo "skopeo saw $digest for $tag" >&2; exit 1; }
done
finished=$(date +%s.%N)

python3 - "$work/cascade.json" "$started" "$finished" "$sample" "$tags" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
skopeo_sample = float(sys.argv[3]) - float(sys.argv[2])
sample, tags = int(sys.argv[4]), int(sys.argv[5])
skopeo_all = skopeo_sample / sample * tags
cascade = result["resolve_seconds"]
ratio = skopeo_all / cascade
rows = [
    ("cascade: PUT the manifest under %d tags" % tags, "%.3f s" % result["copy_seconds"]),
    ("cascade: resolve %d digests (%d threads), median of %d rounds" % (tags, result["threads"], result["rounds"]), "%.3f s" % cascade),
    ("cascade: fastest round", "%.3f s" % result["resolve_min_seconds"]),
    ("cascade: connections opened for the resolves", str(result["resolve_connections"])),
    ("skopeo inspect: %d images" % sample, "%.3f s" % skopeo_sample),
    ("skopeo inspect: %d images, extrapolated" % tags, "%.1f s" % skopeo_all),
    ("speed-up (skopeo / cascade)", "%.0fx" % ratio),
]
print("| measure | value |\n| --- | --- |")
for name, value in rows: print("| %s | %s |" % (name, value))
print()
print("| goal | result |\n| --- | --- |")
print("| resolve %d digests < 1 s | %s |" % (tags, "PASS" if cascade < 1 else "FAIL"))
print("| >= 80x faster than skopeo | %s |" % ("PASS" if ratio >= 80 else "FAIL"))
PY
